"""In Chromium: an inspector passes training, grades ten candidates with the
keyboard, goes back to change one, reloads and resumes where they stopped.

Fails, never skips, when Chromium cannot run (`make test` installs it).
"""

import pytest
from playwright.sync_api import expect

from inspection import grading
from inspection.models import Grade, GradeChange, KnownItem
from tests.test_browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def current_assignment(page):
    return int(page.locator("#grader").get_attribute("data-position"))


def test_an_inspector_trains_grades_with_keys_and_resumes(
    page,
    live_server,
    inspector,
    graded_search,
):
    run, _ = graded_search
    campaign = grading.create_campaign(run, "browser round", [inspector], known_fraction=0)
    grading.set_status(campaign, "open")
    log_in(page, live_server, "ines", "ines-password-1")

    # Training: the page insists, then gives feedback after each answer.
    page.goto(f"{live_server.url}/grading/{campaign.pk}/")
    expect(page.get_by_role("heading", name="Training")).to_be_visible()
    for k in range(6):
        item = KnownItem.objects.get(pk=page.locator('input[name="item"]').get_attribute("value"))
        page.keyboard.press("2" if item.is_lens else "0")
        # Wait for this answer's page (the last one's feedback also says "Right.").
        expect(page.locator("#feedback")).to_contain_text(f"{k + 1} of 6 answered")
        expect(page.locator("#feedback")).to_contain_text("Right.")
    expect(page.locator("#training-passed")).to_be_visible()

    page.goto(f"{live_server.url}/grading/{campaign.pk}/")
    expect(page.locator("#grader[data-ready='1']")).to_have_count(1)
    expect(page.locator("#position")).to_contain_text("item 1 of")
    given = {}
    order = list(campaign.assignments.filter(inspector=inspector).order_by("position"))
    for k in range(10):
        assert current_assignment(page) == k
        value = k % 3
        page.keyboard.press(str(value))
        given[order[k].pk] = value
        expect(page.locator("#done")).to_have_text(str(k + 1))
    expect(page.locator("#position")).to_contain_text("item 11 of")

    # Back two, change that grade, then forward again.
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#position")).to_contain_text("item 9 of")
    expect(page.locator("#current-grade")).to_have_text(str(given[order[8].pk]))
    page.keyboard.press("c")
    page.locator("#comment").fill("faint arc, south")
    page.keyboard.press("Enter")
    page.keyboard.press("0")  # was 2
    given[order[8].pk] = 0
    expect(page.locator("#position")).to_contain_text("item 10 of")
    expect(page.locator("#save-state")).to_have_text("saved")

    page.reload()
    expect(page.locator("#grader[data-ready='1']")).to_have_count(1)
    expect(page.locator("#position")).to_contain_text("item 11 of")  # the first ungraded one
    expect(page.locator("#done")).to_have_text("10")

    grades = dict(Grade.objects.values_list("assignment_id", "grade"))
    assert grades == given
    changed = Grade.objects.get(assignment_id=order[8].pk)
    # 2, then the comment saved with it, then the change to 0.
    assert list(changed.history.values_list("value", flat=True)) == [2, 2, 0]
    assert changed.comment == "faint arc, south" and changed.view["stretch"] == "asinh"
    assert GradeChange.objects.count() == 12
