"""Everyone changes their own password; Django admin's login forwards to ours."""

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_an_inspector_changes_their_own_password_and_stays_logged_in(inspector):
    inspector.set_password("old-secret-phrase-1")
    inspector.save()
    client = Client()
    client.force_login(inspector)
    url = reverse("password_change")
    assert client.get(url).status_code == 200
    wrong = client.post(url, {"old_password": "nope", "new_password1": "Tr0mbone-Lens-42",
                              "new_password2": "Tr0mbone-Lens-42"})  # fmt: skip
    assert wrong.status_code == 200 and "old password was entered incorrectly" in wrong.text
    weak = client.post(url, {"old_password": "old-secret-phrase-1", "new_password1": "12345678",
                             "new_password2": "12345678"})  # fmt: skip
    assert weak.status_code == 200 and "entirely numeric" in weak.text
    inspector.refresh_from_db()
    assert inspector.check_password("old-secret-phrase-1")
    done = client.post(url, {"old_password": "old-secret-phrase-1",
                             "new_password1": "Tr0mbone-Lens-42",
                             "new_password2": "Tr0mbone-Lens-42"})  # fmt: skip
    assert done.status_code == 302 and done["Location"] == reverse("password_change_done")
    assert client.get(reverse("inspection:my_grading")).status_code == 200  # still logged in
    inspector.refresh_from_db()
    assert inspector.check_password("Tr0mbone-Lens-42")
    assert 'href="/accounts/password/"' in client.get(reverse("inspection:home")).text


def test_django_admins_login_forwards_to_the_one_login_page(client):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"] == reverse("login") + "?next=/admin/"
    # And Django admin itself sends anonymous users there through it.
    first = client.get("/admin/")
    assert first.status_code == 302
    assert client.get(first["Location"])["Location"].startswith(reverse("login") + "?next=")
