"""In Chromium: an item that retires while an inspector grades leaves their
list as soon as their next grade is saved, and never the grade they gave.

Fails, never skips, when Chromium cannot run (`make test` installs it).
"""

import pytest
from playwright.sync_api import expect

from inspection.grading import adaptive
from inspection.grading import services as grading
from inspection.models import Assignment, Grade
from tests.inspection.test_adaptive_grading import trained
from tests.inspection.test_grading_browser import open_grading, stamps_shown
from tests.test_browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_retired_item_ahead_leaves_the_open_page_after_the_next_grade(
    page, live_server, inspector, graded_search
):
    campaign, order = open_grading(page, live_server, inspector, graded_search)
    (other,) = trained(1)
    campaign.inspectors.add(other)
    for a in order:  # the other inspector holds the same items
        Assignment.objects.create(
            campaign=campaign, inspector=other, item=a.item, position=a.position
        )
    grading.set_policy(campaign, adaptive.Policy(retire_after=1))
    n = len(order)
    log_in(page, live_server, "ines", "ines-password-1")
    page.goto(f"{live_server.url}/grading/{campaign.pk}/")
    expect(page.locator("#position")).to_have_text(f"item 1 of {n}")

    # Meanwhile the other inspector grades ines's third item 0: it retires.
    ahead = Assignment.objects.get(inspector=other, item=order[2].item)
    grading.record_grade(ahead, 0)
    stamps_shown(page)
    page.keyboard.press("1")
    expect(page.locator("#position")).to_have_text(f"item 2 of {n - 1}")
    stamps_shown(page)
    page.keyboard.press("2")
    expect(page.locator("#done")).to_have_text("2")
    # The next item shown is the fourth: the third is skipped.
    assert int(page.locator("#grader").get_attribute("data-position")) == 2
    expect(page.locator("#position")).to_have_text(f"item 3 of {n - 1}")
    page.reload()
    expect(page.locator("#position")).to_have_text(f"item 3 of {n - 1}")
    assert set(Grade.objects.filter(assignment__inspector=inspector).values_list(
        "assignment_id", "grade"
    )) == {(order[0].pk, 1), (order[1].pk, 2)}  # fmt: skip
