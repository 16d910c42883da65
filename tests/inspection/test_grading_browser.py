"""In Chromium: an inspector passes training, grades ten candidates with the
keyboard, goes back to change one, reloads and resumes where they stopped;
grade keys wait for the stamps, a click leaves no key armed, and a grade
counts only once saved.

Fails, never skips, when Chromium cannot run (`make test` installs it).
"""

import json
import re

import pytest
from playwright.sync_api import expect

from inspection.grading import services as grading
from inspection.models import Grade, GradeChange, KnownItem
from tests.inspection.test_grading import pass_training
from tests.test_browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def current_assignment(page):
    return int(page.locator("#grader").get_attribute("data-position"))


def stamps_shown(page):
    """Wait until the current item's images are on screen: grade keys wait for them."""
    expect(page.locator("#viewer")).not_to_have_class(re.compile(r"\bloading\b"))
    expect(page.locator("#loading")).to_be_hidden()


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
        expect(
            page.locator("#question[aria-busy='false'], #question:not([aria-busy])")
        ).to_be_visible()
        item = KnownItem.objects.get(pk=page.locator('input[name="item"]').get_attribute("value"))
        page.keyboard.press("2" if item.is_lens else "0")
        # Wait for this answer's feedback (the last one's also says "Right.").
        expect(page.locator("#feedback")).to_contain_text(f"{k + 1} of 6 answered")
        expect(page.locator("#feedback")).to_contain_text("Right.")
        if k < 5:
            page.keyboard.press("Enter")  # the next item
    expect(page.locator("#training-passed")).to_be_visible()

    page.goto(f"{live_server.url}/grading/{campaign.pk}/")
    expect(page.locator("#grader[data-ready='1']")).to_have_count(1)
    expect(page.locator("#position")).to_contain_text("item 1 of")
    given = {}
    order = list(campaign.assignments.filter(inspector=inspector).order_by("position"))
    for k in range(10):
        assert current_assignment(page) == k
        stamps_shown(page)
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
    stamps_shown(page)
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


# --- Grades land on the stamp on screen, once, and count once saved --------------


def open_grading(page, live_server, inspector, graded_search, graded=0):
    """An open campaign for a trained inspector, its first ``graded`` items
    graded already; returns (campaign, assignments in the inspector's order)."""
    run, _ = graded_search
    campaign = grading.create_campaign(run, "browser round", [inspector], known_fraction=0)
    grading.set_status(campaign, "open")
    pass_training(inspector)
    order = list(campaign.assignments.filter(inspector=inspector).order_by("position"))
    for a in order[:graded]:
        grading.record_grade(a, 0)
    return campaign, order


def eventually(check, page, seconds=5):
    for _ in range(int(seconds * 10)):
        if check():
            return
        page.wait_for_timeout(100)
    assert check()


def saved_grades():
    return dict(Grade.objects.values_list("assignment_id", "grade"))


def test_grade_keys_wait_until_the_stamps_of_the_item_are_shown(
    page, live_server, inspector, graded_search
):
    campaign, order = open_grading(page, live_server, inspector, graded_search, graded=1)
    log_in(page, live_server, "ines", "ines-password-1")
    items = page.request.get(f"{live_server.url}/grading/{campaign.pk}/items.json").json()
    images = [{u.split("?")[0] for u in it["images"].values()} for it in items["items"]]
    held, released, requested = [], [], []

    def hold_the_third_items_stamps(route):
        path = route.request.url.split("?")[0].removeprefix(live_server.url)
        if path in images[2] and not released:
            held.append(route)  # a slow network: answered when the test says so
        else:
            route.continue_()

    page.route("**/*.png*", hold_the_third_items_stamps)
    page.on("request", lambda r: requested.append(r.url.split("?")[0]))
    page.goto(f"{live_server.url}/grading/{campaign.pk}/")
    expect(page.locator("#position")).to_contain_text("item 2 of")
    stamps_shown(page)

    page.keyboard.press("1")  # item 2; item 3's stamps are still on their way
    expect(page.locator("#position")).to_contain_text("item 3 of")
    page.keyboard.press("2")  # item 2's stamps, or none, on screen: not a grade of item 3
    page.locator("button[data-grade='0']").click(force=True)
    page.wait_for_timeout(400)
    expect(page.locator("#position")).to_contain_text("item 3 of")
    assert saved_grades() == {order[0].pk: 0, order[1].pk: 1}
    expect(page.locator("#loading")).to_be_visible()
    expect(page.locator("#viewer")).to_have_class(re.compile(r"\bloading\b"))
    expect(page.locator("button[data-grade='2']")).to_be_disabled()

    released.append(True)
    for route in held:
        route.continue_()
    stamps_shown(page)
    page.keyboard.press("2")
    expect(page.locator("#position")).to_contain_text("item 4 of")
    expect(page.locator("#done")).to_have_text("3")
    assert saved_grades() == {order[0].pk: 0, order[1].pk: 1, order[2].pk: 2}
    # Preloaded both ways: from item 2, the item behind it and the two ahead.
    for k in (0, 2, 3):
        assert images[k] <= {u.removeprefix(live_server.url) for u in requested}, k


def test_enter_or_space_after_a_click_grades_nothing_more(
    page, live_server, inspector, graded_search
):
    campaign, order = open_grading(page, live_server, inspector, graded_search)
    log_in(page, live_server, "ines", "ines-password-1")
    page.goto(f"{live_server.url}/grading/{campaign.pk}/")
    stamps_shown(page)
    page.get_by_role("button", name="1 · possible").click()
    expect(page.locator("#done")).to_have_text("1")
    stamps_shown(page)
    assert page.evaluate("document.activeElement.hasAttribute('data-grade')") is False
    for key in ("Enter", " ", "Enter"):
        page.keyboard.press(key)
    page.wait_for_timeout(400)
    expect(page.locator("#position")).to_contain_text("item 2 of")
    expect(page.locator("#done")).to_have_text("1")
    assert saved_grades() == {order[0].pk: 1}


def test_unsaved_grades_are_not_counted_and_stay_in_an_alert_until_saved(
    page, live_server, inspector, graded_search
):
    campaign, order = open_grading(page, live_server, inspector, graded_search)
    network = {"offline": True}
    refused_id = order[1].pk
    posts = []

    def grade_route(route):
        posts.append(route.request.post_data)
        if network["offline"]:
            route.abort("internetdisconnected")
        elif json.loads(route.request.post_data)["id"] == refused_id:
            route.fulfill(status=400, content_type="application/json",
                          body=json.dumps({"error": "refused by the test"}))  # fmt: skip
        else:
            route.continue_()

    page.route("**/grade/", grade_route)
    log_in(page, live_server, "ines", "ines-password-1")
    page.goto(f"{live_server.url}/grading/{campaign.pk}/")
    unsaved, done = page.locator("#unsaved"), page.locator("#done")

    # Offline: the grade is neither saved nor counted, and says so.
    stamps_shown(page)
    page.keyboard.press("1")
    expect(page.locator("#save-state")).to_contain_text("not saved")
    expect(done).to_have_text("0")
    expect(unsaved).to_be_visible()
    expect(unsaved).to_contain_text("item 1: 1")
    assert saved_grades() == {}

    # Back online: the queue retries it by itself.
    network["offline"] = False
    expect(done).to_have_text("1", timeout=10_000)
    expect(unsaved).to_be_hidden()
    assert saved_grades() == {order[0].pk: 1}

    # A refusal stays listed after the next item saves.
    stamps_shown(page)
    page.keyboard.press("2")
    expect(unsaved).to_contain_text("item 2: 2 — refused: refused by the test")
    stamps_shown(page)
    page.keyboard.press("0")
    expect(done).to_have_text("2")
    expect(unsaved).to_be_visible()
    expect(unsaved).to_contain_text("item 2")
    assert saved_grades() == {order[0].pk: 1, order[2].pk: 0}

    # Closed meanwhile: the refusal closes grading on the page.
    grading.set_status(campaign, "closed")
    stamps_shown(page)
    page.keyboard.press("1")
    expect(page.locator("#closed-msg")).to_be_visible()
    expect(unsaved).to_contain_text("item 4: 1 — refused")
    expect(page.locator("button[data-grade='1']")).to_be_disabled()
    sent = len(posts)
    page.keyboard.press("2")
    page.wait_for_timeout(300)
    assert len(posts) == sent

    # Opened on a closed campaign: nothing to press, nothing sent.
    page.reload()
    expect(page.locator("#grader[data-ready='1']")).to_have_count(1)
    stamps_shown(page)
    expect(page.locator("#closed-msg")).to_be_visible()
    expect(page.locator("button[data-grade='0']")).to_be_disabled()
    page.keyboard.press("1")
    page.wait_for_timeout(300)
    assert len(posts) == sent and saved_grades() == {order[0].pk: 1, order[2].pk: 0}
