"""Who may see what: every admin page refuses inspectors (403) and sends
anonymous users to the login page."""

import pytest
from django.urls import reverse

from core.models import Job

ADMIN_PAGES = [
    "inspection:surveys",
    "inspection:runs",
    "inspection:campaigns",
    "inspection:catalogues",
    "inspection:inspectors",
    "classifier:networks",
    "classifier:train",
    "core:jobs",
]
ADMIN_POSTS = [
    "inspection:inspector_create",
    "core:selftest",
    "classifier:train_launch",
    "inspection:survey_ingest",
    "inspection:campaign_create",
    "inspection:known_set_add",
    "inspection:training_policy",
]


@pytest.fixture
def job(db):
    return Job.objects.create(title="t", function="core.jobs.selftest")


def admin_urls(job):
    urls = [reverse(name) for name in ADMIN_PAGES]
    urls += [reverse("core:job", args=[job.pk]), reverse("core:job_progress", args=[job.pk])]
    urls += ["/admin/", "/admin/auth/user/", "/rq/", "/rq/queues/0/"]
    return urls


def test_it_gives_inspectors_403_on_every_admin_page(inspector_client, job):
    for url in admin_urls(job):
        response = inspector_client.get(url)
        assert response.status_code == 403, url


def test_it_refuses_admin_actions_to_inspectors(inspector_client, job):
    for name in ADMIN_POSTS:
        assert inspector_client.post(reverse(name), {"username": "x"}).status_code == 403
    assert inspector_client.post(reverse("core:job_cancel", args=[job.pk])).status_code == 403
    job.refresh_from_db()
    assert not job.cancel_requested


def test_it_sends_anonymous_users_to_the_login_page(anon_client, job):
    for url in [reverse("inspection:home"), reverse("inspection:my_grading"), *admin_urls(job)]:
        response = anon_client.get(url)
        assert response.status_code == 302, url
        assert "/login/" in response["Location"], url


def test_it_shows_the_login_page_to_anonymous_users(anon_client, db):
    response = anon_client.get(reverse("login"))
    assert response.status_code == 200
    assert b'name="password"' in response.content


def test_it_lets_admins_see_admin_pages(admin_client, job):
    for url in admin_urls(job):
        assert admin_client.get(url).status_code == 200, url


def test_it_keeps_admins_out_of_inspector_grading_unless_they_inspect(admin_client):
    assert admin_client.get(reverse("inspection:my_grading")).status_code == 403


def test_it_shows_each_role_its_own_navigation(admin_client, inspector, client):
    admin_page = admin_client.get(reverse("inspection:home")).content.decode()
    for label in ["Surveys", "Runs", "Networks", "Campaigns", "Catalogues"]:
        assert f">{label}</a>" in admin_page
    assert ">My grading</a>" not in admin_page

    client.force_login(inspector)
    inspector_page = client.get(reverse("inspection:home")).content.decode()
    assert ">My grading</a>" in inspector_page
    for label in ["Surveys", "Runs", "Networks", "Campaigns", "Catalogues", "Django admin"]:
        assert f">{label}</a>" not in inspector_page


def test_it_logs_in_with_a_password_and_logs_out(anon_client, inspector):
    response = anon_client.post(
        reverse("login"), {"username": "ines", "password": "ines-password-1"}, follow=True
    )
    assert response.wsgi_request.user == inspector
    assert b"My grading" in response.content
    anon_client.post(reverse("logout"))
    assert anon_client.get(reverse("inspection:home")).status_code == 302


def test_it_enforces_csrf_on_posts(inspector):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("login"), {"username": "ines", "password": "ines-password-1"})
    assert response.status_code == 403


def test_it_gives_inspectors_no_stamp_by_survey_or_known_set_name(inspector_client):
    # Inspectors see stamps only through their own assignments (and their
    # training): a name and an index would tell a known item from a candidate.
    for url in (
        reverse("inspection:preview", args=["any-survey", 0, "r"]),
        reverse("inspection:known_preview", args=["any-set", 0, "rgb"]),
    ):
        assert inspector_client.get(url).status_code == 403, url
