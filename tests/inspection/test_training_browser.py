"""In Chromium: training answers go without a page reload, show a loading
state while they travel, and come back as the truth on the same stamps with
the reveal view and the Einstein circle; the end of the attempt reviews its
mistakes.

Fails, never skips, when Chromium cannot run (`make test` installs it).
"""

import pytest
from playwright.sync_api import expect

from inspection.grading import services as grading
from inspection.models import KnownItem
from tests.test_browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def current_item(page):
    expect(page.locator("#question")).to_be_visible()
    expect(page.locator("#question")).to_have_attribute("aria-busy", "false")
    return KnownItem.objects.get(pk=page.locator('input[name="item"]').get_attribute("value"))


def wait_loaded(page, images):
    """Wait until every image of ``images`` is decoded (a 403 never is)."""
    page.wait_for_function(
        "(imgs) => imgs.every((i) => i.complete && i.naturalWidth > 0)",
        arg=images.element_handles(),
    )


def test_answers_come_back_on_the_same_page_with_the_truth_and_a_review(
    page, live_server, inspector, graded_search
):
    log_in(page, live_server, "ines", "ines-password-1")
    page.goto(f"{live_server.url}/training/")
    page.evaluate("window.sameDocument = true")  # gone if the page reloads
    items = grading.training_items(inspector)
    missed = None
    held = []
    for k in range(len(items)):
        if k == 0:
            expect(page.locator("#question")).to_be_visible()
            item = KnownItem.objects.get(
                pk=page.locator('input[name="item"]').get_attribute("value")
            )
        else:
            item = current_item(page)
        wrong = item.is_lens and missed is None
        if wrong:
            missed = item
        grade = 0 if wrong else (2 if item.is_lens else 0)
        if k == 0:
            # The first answer is held on its way: the page says it is checking.
            page.route("**/training/answer.json", lambda route: held.append(route))
            page.locator(f'#training-form button[value="{grade}"]').click()
            expect(page.locator("#saving")).to_be_visible()
            expect(page.locator("#training-form button").first).to_be_disabled()
            held[0].continue_()
            page.unroute("**/training/answer.json")
        else:
            page.keyboard.press(str(grade))
        feedback = page.locator("#feedback")
        expect(feedback).to_contain_text(f"{k + 1} of {len(items)} answered")
        expect(feedback).to_have_attribute("data-item", str(item.pk))
        expect(feedback).to_contain_text("Not quite." if wrong else "Right.")
        expect(page.locator("#question")).to_be_hidden()
        reveal = feedback.locator("img.reveal-img")
        expect(reveal).to_be_visible()
        circles = feedback.locator("svg.einstein circle")
        if item.is_lens:
            # On the stamps as asked (r, g,r,i) and on the reveal view.
            expect(circles).to_have_count(3)
            r = float(circles.first.get_attribute("r"))
            assert r == pytest.approx(grading.einstein_circle(item), abs=1e-5)
            box = feedback.locator("svg.einstein").first.bounding_box()
            assert box["width"] == pytest.approx(291, abs=1)  # over the whole stamp
        else:
            expect(circles).to_have_count(0)
        wait_loaded(page, feedback.locator("img"))
        if k + 1 < len(items):
            page.keyboard.press("Enter")
    assert missed is not None
    assert page.evaluate("window.sameDocument") is True

    # The end: passed (5 of 6 over the mark of 0.5) and the review of the one mistake.
    expect(page.locator("#training-passed")).to_be_visible()
    review = page.locator("#review .review-item")
    expect(review).to_have_count(1)
    expect(review).to_have_attribute("data-item", str(missed.pk))
    expect(review).to_contain_text("You said 0")
    expect(review.locator("svg.einstein circle")).to_have_count(3)
    wait_loaded(page, review.locator("img"))
    assert page.evaluate("window.sameDocument") is True
    # The same review after a reload (the page without its script's answers).
    page.reload()
    expect(page.locator("#review .review-item")).to_have_count(1)
