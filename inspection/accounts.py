"""Creating inspectors and admins: one code path for the web form and the command."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction

from core.roles import INSPECTOR_GROUP

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class AccountError(ValueError):
    """A user could not be created; the message says why and what to do."""


def inspector_group() -> Group:
    group, _ = Group.objects.get_or_create(name=INSPECTOR_GROUP)
    return group


def new_password() -> str:
    """A random password that is easy to read out (no look-alike characters)."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(3))


def _check_username(username):
    User = get_user_model()
    field = User._meta.get_field("username")
    try:
        field.run_validators(username)
    except ValidationError as exc:
        raise AccountError(f"Username {username!r}: {' '.join(exc.messages)}") from exc
    if not username:
        raise AccountError("A username is required.")


@transaction.atomic
def create_inspector(
    username: str,
    password: str | None = None,
    email: str = "",
    full_name: str = "",
    validate: bool = True,
) -> tuple[User, str]:
    """Create an inspector; returns ``(user, password)``.

    A password is generated when none is given. ``validate=False`` skips
    Django's password rules (used for the demo accounts only).
    """
    User = get_user_model()
    username = (username or "").strip()
    _check_username(username)
    if User.objects.filter(username__iexact=username).exists():
        raise AccountError(
            f"A user named {username!r} already exists: choose another username "
            "(or change that user's groups in Django admin)."
        )
    password = password or new_password()
    first, _, last = (full_name or "").strip().partition(" ")
    user = User(username=username, email=email, first_name=first, last_name=last)
    if validate:
        try:
            password_validation.validate_password(password, user)
        except ValidationError as exc:
            raise AccountError(f"Password rejected: {' '.join(exc.messages)}") from exc
    user.set_password(password)
    user.save()
    user.groups.add(inspector_group())
    return user, password


@transaction.atomic
def ensure_user(
    username: str, password: str, *, admin: bool = False, inspector: bool = False
) -> tuple[User, bool]:
    """Create the user if missing; an existing user keeps its password and data.

    Returns ``(user, created)``. Used by the demo set-up, which must be safe
    to run again.
    """
    User = get_user_model()
    user, created = User.objects.get_or_create(username=username)
    if created:
        user.set_password(password)
        user.is_staff = user.is_superuser = admin
        user.save()
    if inspector:
        user.groups.add(inspector_group())
    return user, created
