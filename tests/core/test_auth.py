"""Logging in: wrong passwords are throttled per account and per address, and
the demo accounts' published passwords work from this machine only."""

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from core.auth import DEMO_LOGINS, is_loopback

pytestmark = pytest.mark.django_db

REMOTE = "192.0.2.7"  # TEST-NET-1: never this machine


@pytest.fixture(autouse=True)
def _fast_hashing(settings):
    # Throttling is counted per attempt whatever the hasher; PBKDF2 would
    # spend seconds per wrong password here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def log_in(client, username, password, address="127.0.0.1", **headers):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address,
        **headers,
    )  # fmt: skip


def logged_in(client):
    return "_auth_user_id" in client.session


def test_it_refuses_the_right_password_after_too_many_wrong_ones(client, inspector, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert log_in(client, "ines", "wrong-guess").status_code == 200
    assert log_in(client, "ines", "wrong-guess").status_code == 429  # the last one allowed
    response = log_in(client, "ines", "ines-password-1")
    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()
    assert not logged_in(client)


def test_it_locks_the_account_whichever_address_the_guesses_come_from(client, inspector, settings):
    for k in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, "ines", "wrong-guess", address=f"198.51.100.{k}")
    assert log_in(client, "ines", "ines-password-1", address="198.51.100.200").status_code == 429
    assert not logged_in(client)


def test_it_locks_an_address_that_guesses_many_accounts(client, inspector, settings):
    for k in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, f"someone{k}", "wrong-guess", address="198.51.100.9")
    assert log_in(client, "ines", "ines-password-1", address="198.51.100.9").status_code == 429
    assert log_in(client, "ines", "ines-password-1", address="198.51.100.10").status_code == 302
    assert logged_in(client)


def test_a_few_wrong_passwords_do_not_lock_anyone_out(client, inspector, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in(client, "ines", "wrong-guess")
    assert log_in(client, "ines", "ines-password-1").status_code == 302


def test_it_checks_a_bounded_number_of_passwords_at_once(client, inspector, monkeypatch):
    import threading

    from core import auth

    busy = threading.BoundedSemaphore(1)
    busy.acquire()  # another login's password is being hashed
    monkeypatch.setattr(auth, "_checks_running", busy)
    monkeypatch.setattr(auth, "BUSY_WAIT_S", 0.05)
    response = log_in(client, "ines", "ines-password-1")
    assert "busy checking other logins" in response.content.decode() and not logged_in(client)
    busy.release()
    assert log_in(client, "ines", "ines-password-1").status_code == 302


@pytest.fixture
def demo_admin(db):
    from inspection.grading.services import ensure_user

    user, _ = ensure_user("admin", DEMO_LOGINS["admin"], admin=True)
    return user


def test_the_published_demo_password_works_from_this_machine(client, demo_admin):
    assert log_in(client, "admin", DEMO_LOGINS["admin"]).status_code == 302
    assert logged_in(client)


@pytest.mark.parametrize(
    "address, headers",
    [(REMOTE, {}), ("127.0.0.1", {"HTTP_X_FORWARDED_FOR": REMOTE})],
    ids=["another machine", "through a proxy"],
)
def test_the_published_demo_password_is_refused_from_elsewhere(
    client, demo_admin, address, headers
):
    response = log_in(client, "admin", DEMO_LOGINS["admin"], address, **headers)
    assert response.status_code == 200 and not logged_in(client)
    assert "changepassword admin" in response.content.decode()
    # Django admin's own login form is refused too.
    client.post(
        reverse("admin:login"), {"username": "admin", "password": DEMO_LOGINS["admin"]},
        REMOTE_ADDR=address, **headers,
    )  # fmt: skip
    assert not logged_in(client)


def test_a_demo_account_with_its_own_password_logs_in_from_anywhere(client, demo_admin):
    demo_admin.set_password("a-password-of-its-own")
    demo_admin.save()
    assert log_in(client, "admin", "a-password-of-its-own", REMOTE).status_code == 302


def test_runstack_refuses_to_listen_beyond_loopback_with_published_passwords(demo_admin):
    with pytest.raises(CommandError, match="demo accounts admin still have the passwords"):
        call_command("runstack", "--addr", "0.0.0.0:8000")
    with pytest.raises(CommandError, match="demo accounts admin"):
        call_command("runstack", "--addr", "[::]:8000")


def test_it_knows_loopback_addresses():
    for host in ("127.0.0.1", "127.3.2.1", "::1", "[::1]", "::ffff:127.0.0.1", "localhost"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "::", "192.168.1.5", "lens.example", ""):
        assert not is_loopback(host), host
