"""In Chromium: an admin opens a graded campaign's catalogue, sees every
dashboard drawn by the locally served plotly, and sends the further-vote set
to a second round with one click.

Fails, never skips, when Chromium cannot run (`make test` installs it).
"""

import pytest
from playwright.sync_api import expect

from inspection.grading import services as grading
from inspection.models import Assignment, Campaign
from tests.test_browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_reads_the_catalogue_and_starts_a_further_vote(
    page, live_server, admin, inspector, other_inspector, graded_search
):
    run, _ = graded_search
    campaign = grading.create_campaign(run, "round 1", [inspector, other_inspector],
                                       known_fraction=0)  # fmt: skip
    grading.set_status(campaign, "open")
    items = list(campaign.items.order_by("source__stamp_index"))
    # Totals 4 (high probability), 3 (further vote) and 0.
    for item, grades in zip(items, [(2, 2), (1, 2), (0, 0)], strict=False):
        for user, g in zip((inspector, other_inspector), grades, strict=True):
            grading.record_grade(Assignment.objects.get(item=item, inspector=user), g)

    log_in(page, live_server, "ada", "ada-password-1")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Catalogues").click()
    page.get_by_role("link", name="round 1").click()
    expect(page.locator("#n-high")).to_have_text("1")
    for name in ("funnel", "totals", "score", "sky", "agreement"):
        # plotly.js (served by the app, no CDN) has drawn each figure.
        expect(page.locator(f"#fig-{name} .main-svg").first).to_be_visible()
    # Each figure fits its card (drawn while the grid was still being laid
    # out, it is resized once the page has loaded); times out if not.
    page.wait_for_function(
        """() => [...document.querySelectorAll('.plotly-graph-div')].every(d => {
            const svg = d.querySelector('.main-svg');
            return svg && svg.getBoundingClientRect().width
                <= d.closest('.card').getBoundingClientRect().width;
        })""",
        timeout=10_000,
    )

    page.get_by_role("button", name="Send to a further vote").click()
    child = Campaign.objects.get(parent=campaign)
    expect(page.get_by_role("heading", name=child.name)).to_be_visible()
    assert list(child.items.values_list("source_id", flat=True)) == [items[1].source_id]
