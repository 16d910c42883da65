"""Logging in: the demo accounts' published passwords, client addresses and
a cap on password checks running at once.

The demo accounts (`make run`, README) have passwords printed in the README:
they are accepted only from this machine (a loopback client reached without
a proxy), so a server that listens beyond loopback never lets them in.
Throttling of wrong passwords is django-axes' (settings, "Login throttling").
"""

import ipaddress
import threading

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

#: username -> the password the README and `setup_demo` publish.
DEMO_LOGINS = {
    "admin": "lensfinder-admin",
    "inspector1": "lensfinder-inspector1",
    "inspector2": "lensfinder-inspector2",
}
PROXY_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")
PUBLISHED_PASSWORD_REFUSED = (
    "This is a demo account whose password is published: it logs in only from the "
    "server itself (http://127.0.0.1). Give it a password of its own first "
    "(manage.py changepassword {username})."
)


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 (also IPv4-mapped) and ``localhost``."""
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


def client_address(request: HttpRequest) -> str:
    """The client's IP address: behind a proxy (LENSFINDER_BEHIND_PROXY), the
    one the proxy appended to X-Forwarded-For; earlier entries come from the
    client and could be anything."""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if settings.BEHIND_PROXY and forwarded.strip():
        return forwarded.split(",")[-1].strip()
    return request.META.get("REMOTE_ADDR", "")


def is_local_request(request: HttpRequest | None) -> bool:
    """A request from this machine that no proxy forwarded (a proxy on this
    machine would make every client look local)."""
    if request is None:
        return False
    if any(request.META.get(h) for h in PROXY_HEADERS):
        return False
    return is_loopback(request.META.get("REMOTE_ADDR", ""))


def is_published_login(username: str | None, password: str | None) -> bool:
    return username is not None and DEMO_LOGINS.get(username) == password


def demo_logins_in_use() -> list[str]:
    """Demo accounts that still have their published password."""
    users = get_user_model().objects.filter(username__in=DEMO_LOGINS, is_active=True)
    return sorted(u.username for u in users if u.check_password(DEMO_LOGINS[u.username]))


class PublishedPasswordBackend:
    """Refuses a demo account's published password from anywhere but this
    machine, on every login path (the login page, Django admin's)."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs,
    ) -> None:
        if is_published_login(username, password) and not is_local_request(request):
            # PermissionDenied stops Django from asking the other backends.
            raise PermissionDenied(PUBLISHED_PASSWORD_REFUSED.format(username=username))
        return None


_checks_running = threading.BoundedSemaphore(settings.LOGIN_CONCURRENCY)
BUSY_WAIT_S = 10.0  # a login waits this long for a free slot, then is told to retry


class LoginForm(AuthenticationForm):
    """Django's login form, saying why a published password is refused, and
    hashing at most ``settings.LOGIN_CONCURRENCY`` passwords at once."""

    def clean(self):
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if is_published_login(username, password) and not is_local_request(self.request):
            raise forms.ValidationError(
                PUBLISHED_PASSWORD_REFUSED.format(username=username), code="published"
            )
        if not _checks_running.acquire(timeout=BUSY_WAIT_S):
            raise forms.ValidationError(
                "The server is busy checking other logins: try again in a moment.", code="busy"
            )
        try:
            return super().clean()
        finally:
            _checks_running.release()
