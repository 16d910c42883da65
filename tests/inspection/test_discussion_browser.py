"""In Chromium: an inspector grades a candidate on the grading page, finds
the discussion closed while the campaign shows her more, then, once all are
graded, finds it on her discussion page, reads the other inspector's comment
only then, and posts a comment of her own.

Fails, never skips, when Chromium cannot run (`make test` installs it).
"""

import pytest
from playwright.sync_api import expect

from inspection.models import Assignment, Comment
from tests.inspection.test_discussion import finish
from tests.inspection.test_grading_browser import open_grading, stamps_shown
from tests.test_browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_inspector_posts_a_comment_after_grading(
    page, live_server, inspector, other_inspector, graded_search
):
    campaign, order = open_grading(page, live_server, inspector, graded_search)
    first = order[0]
    campaign.inspectors.add(other_inspector)
    Assignment.objects.create(
        campaign=campaign, inspector=other_inspector, item=first.item, position=0
    )
    Comment.objects.create(item=first.item, author=other_inspector, text="otto: an arc <b>?</b>")
    thread = f"{live_server.url}/grading/{campaign.pk}/candidates/{first.pk}/"
    log_in(page, live_server, "ines", "ines-password-1")

    # Before grading, the thread is closed.
    assert page.request.get(thread).status == 403

    page.goto(f"{live_server.url}/grading/{campaign.pk}/")
    stamps_shown(page)
    page.keyboard.press("2")
    expect(page.locator("#done")).to_have_text("1")

    # The discussion opens once everything the campaign shows her is graded.
    page.goto(f"{live_server.url}/")
    page.get_by_role("link", name="Discussion").click()
    expect(page.locator("#discussion-closed")).to_contain_text("left")
    assert page.request.get(thread).status == 403
    finish(inspector, campaign)
    page.reload()
    page.get_by_role("link", name=first.item.source.name).click()
    expect(page).to_have_url(thread)
    expect(page.locator("#my-grade")).to_have_text("2")
    expect(page.locator("#comments")).to_contain_text("otto: an arc <b>?</b>")  # as text
    page.get_by_label("Your comment").fill("ines: I see the counter-image too")
    page.get_by_role("button", name="Post comment").click()
    expect(page).to_have_url(thread + "#thread")
    expect(page.locator("#comments li")).to_have_count(2)
    expect(page.locator("#comments li").nth(1)).to_contain_text("ines: I see the counter-image too")
    assert list(Comment.objects.filter(author=inspector).values_list("text", flat=True)) == [
        "ines: I see the counter-image too"
    ]
