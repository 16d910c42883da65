"""In Chromium: each role logs in and sees its own pages; a job's page
updates itself while a real worker runs the job.

These tests must fail, not skip, when Chromium cannot run (`make test`
installs Debian's chromium when it is missing).
"""

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, live_server, username, password):
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(f"{live_server.url}/accounts/login/?next=/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".who .username")).to_have_text(username)


def nav_labels(page):
    return page.locator("nav.nav a").all_inner_texts()


def test_an_inspector_sees_only_their_grading(page, live_server, inspector):
    log_in(page, live_server, "ines", "ines-password-1")
    assert nav_labels(page) == ["My grading"]
    expect(page.get_by_role("heading", name="My grading")).to_be_visible()
    response = page.goto(f"{live_server.url}/surveys/")
    assert response.status == 403
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()


def test_an_admin_sees_the_overview_and_a_job_progressing(page, live_server, admin, start_worker):
    log_in(page, live_server, "ada", "ada-password-1")
    assert nav_labels(page)[:5] == ["Surveys", "Runs", "Networks", "Campaigns", "Catalogues"]
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()

    page.get_by_role("link", name="Jobs").click()
    page.get_by_label("Steps").fill("60")
    page.get_by_label("Seconds per step").fill("0.05")
    page.get_by_role("button", name="Run self-test").click()
    expect(page.get_by_role("heading", name="Self-test: count to 60")).to_be_visible()
    expect(page.locator('[data-field="status"]')).to_have_text("queued")

    start_worker("default")
    # The page polls the job and updates itself: no reload by the test.
    expect(page.locator('[data-field="status"]')).to_have_text("running", timeout=20_000)
    expect(page.locator('[data-field="rate"]')).to_contain_text("steps/s")
    expect(page.locator('[data-field="status"]')).to_have_text("succeeded", timeout=30_000)
    expect(page.locator('[data-field="done"]')).to_have_text("60")
    expect(page.get_by_role("button", name="Cancel job")).to_have_count(0)
