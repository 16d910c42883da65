"""In Chromium: each grade posts its time on task, measured from the stamps on
screen to the key, with a hidden tab's time left out and at most 60 s of a
stretch without input counted. Playwright's clock drives the page's time, so
the seconds posted are exact.

Fails, never skips, when Chromium cannot run (`make test` installs it).
"""

import pytest
from playwright.sync_api import expect

from inspection.models import Grade
from tests.inspection.test_grading_browser import open_grading, stamps_shown
from tests.test_browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

T0 = 1_767_225_600_000  # 2026-01-01, ms: any fixed time

SET_VISIBILITY = """state => {
    Object.defineProperty(document, "visibilityState", {configurable: true, get: () => state});
    Object.defineProperty(document, "hidden", {configurable: true, get: () => state === "hidden"});
    document.dispatchEvent(new Event("visibilitychange"));
}"""


def test_the_time_on_task_leaves_out_a_hidden_tab_and_idle_time(
    page, live_server, inspector, graded_search
):
    campaign, order = open_grading(page, live_server, inspector, graded_search)
    log_in(page, live_server, "ines", "ines-password-1")
    posted = []
    page.on(
        "request",
        lambda r: (
            posted.append(r.post_data_json) if r.method == "POST" and "/grade/" in r.url else None
        ),
    )
    page.clock.install(time=T0)
    page.clock.pause_at(T0 + 1000)  # the page's time moves only when the test moves it
    page.goto(f"{live_server.url}/grading/{campaign.pk}/")
    expect(page.locator("#grader[data-ready='1']")).to_have_count(1)

    # 4 s looking, 10 min in another tab, 2 s looking again: 6 s.
    stamps_shown(page)
    page.clock.run_for(4000)
    page.evaluate(SET_VISIBILITY, "hidden")
    page.clock.run_for(600_000)
    page.evaluate(SET_VISIBILITY, "visible")
    page.clock.run_for(2000)
    page.keyboard.press("1")
    expect(page.locator("#done")).to_have_text("1")

    # 5 min with the stamps on screen and no input: 60 s of it count.
    stamps_shown(page)
    page.clock.run_for(300_000)
    page.keyboard.press("0")
    expect(page.locator("#done")).to_have_text("2")

    # 50 s, a move of the mouse, 50 s: every second counts.
    stamps_shown(page)
    page.clock.run_for(50_000)
    page.mouse.move(40, 40)
    page.mouse.move(60, 80)
    page.clock.run_for(50_000)
    page.keyboard.press("2")
    expect(page.locator("#done")).to_have_text("3")
    expect(page.locator("#save-state")).to_have_text("saved")

    assert [(p["id"], p["seconds"]) for p in posted] == [
        (order[0].pk, 6.0),
        (order[1].pk, 60.0),
        (order[2].pk, 100.0),
    ]
    saved = dict(Grade.objects.values_list("assignment_id", "seconds"))
    assert saved == {order[0].pk: 6.0, order[1].pk: 60.0, order[2].pk: 100.0}
