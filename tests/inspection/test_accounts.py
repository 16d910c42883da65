"""Creating inspectors (command and web form share one code path) and the demo users."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.urls import reverse

from core.roles import is_admin, is_inspector

pytestmark = pytest.mark.django_db


def test_it_creates_an_inspector_from_the_command_line(capsys):
    call_command("create_inspector", "vera", "--password", "galaxy-zoo-42", "--name", "Vera Rubin")
    user = get_user_model().objects.get(username="vera")
    assert is_inspector(user) and not is_admin(user)
    assert user.check_password("galaxy-zoo-42")
    assert (user.first_name, user.last_name) == ("Vera", "Rubin")
    assert "Created inspector vera" in capsys.readouterr().out


def test_it_generates_and_prints_a_password_when_none_is_given(capsys):
    call_command("create_inspector", "henrietta")
    password = capsys.readouterr().out.split("password ")[-1].strip()
    assert get_user_model().objects.get(username="henrietta").check_password(password)


def test_it_refuses_a_taken_username_or_a_weak_password():
    call_command("create_inspector", "vera", "--password", "galaxy-zoo-42")
    with pytest.raises(CommandError, match="A user named 'Vera' already exists"):
        call_command("create_inspector", "Vera", "--password", "galaxy-zoo-43")
    with pytest.raises(CommandError, match="Password rejected"):
        call_command("create_inspector", "cecilia", "--password", "short")
    with pytest.raises(CommandError, match="Username 'no spaces'"):
        call_command("create_inspector", "no spaces")
    assert get_user_model().objects.count() == 1


def test_it_lets_an_admin_create_an_inspector_on_the_web(admin_client):
    response = admin_client.post(
        reverse("inspection:inspector_create"), {"username": "annie", "full_name": "Annie Cannon"}
    )
    assert response.status_code == 302
    user = get_user_model().objects.get(username="annie")
    assert is_inspector(user)
    page = admin_client.get(reverse("inspection:inspectors")).content.decode()
    assert "Inspector annie created. Their password is" in page
    assert "Annie Cannon" in page


def test_it_refuses_numeric_passwords_and_ones_like_the_username():
    with pytest.raises(CommandError, match="entirely numeric"):
        call_command("create_inspector", "vera", "--password", "8364910275")
    with pytest.raises(CommandError, match="too similar to the username"):
        call_command("create_inspector", "henrietta-leavitt", "--password", "henrietta-leavitt1")
    assert not get_user_model().objects.exists()


def test_the_generated_password_never_travels_in_a_cookie(admin_client):
    response = admin_client.post(reverse("inspection:inspector_create"), {"username": "annie"})
    assert "messages" not in response.cookies  # kept in the session, on the server
    page = admin_client.get(reverse("inspection:inspectors")).content.decode()
    password = page.split("Their password is ")[1].split(" ")[0]
    assert get_user_model().objects.get(username="annie").check_password(password)
    assert password not in str(admin_client.cookies)


def test_it_shows_the_reason_when_the_web_form_is_wrong(admin_client, inspector):
    response = admin_client.post(reverse("inspection:inspector_create"), {"username": "ines"})
    assert response.status_code == 400
    assert "A user named &#x27;ines&#x27; already exists" in response.content.decode()


def test_it_sets_up_the_demo_users_once_and_keeps_them(capsys, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    call_command("setup_demo")
    out = capsys.readouterr().out
    assert "admin      admin        lensfinder-admin" in out
    users = get_user_model().objects
    admin = users.get(username="admin")
    assert is_admin(admin) and not is_inspector(admin)
    assert all(is_inspector(users.get(username=u)) for u in ["inspector1", "inspector2"])

    admin.set_password("changed-by-the-admin")
    admin.save()
    field = tmp_path / "demo" / "field"
    assert (field / "field.json").exists() and (field / "r.fits").exists()
    stamp = (field / "r.fits").stat().st_mtime_ns
    call_command("setup_demo")
    out = capsys.readouterr().out
    assert "(existing user: password unchanged)" in out and "(kept)" in out
    assert (field / "r.fits").stat().st_mtime_ns == stamp
    assert users.count() == 3
    assert users.get(username="admin").check_password("changed-by-the-admin")
