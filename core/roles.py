"""The two roles of LensFinder.

*Admins* are staff users: they ingest surveys, launch runs, manage campaigns
and inspectors, and export. *Inspectors* are members of the ``inspectors``
group: they grade candidates and see nothing else. A user may be both.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


INSPECTOR_GROUP = "inspectors"


def is_admin(user: AbstractBaseUser | AnonymousUser) -> bool:
    return bool(user.is_authenticated and user.is_active and user.is_staff)


def is_inspector(user: AbstractBaseUser | AnonymousUser) -> bool:
    if not (user.is_authenticated and user.is_active):
        return False
    # Cached on the user object: the navigation asks on every page.
    if not hasattr(user, "_lensfinder_is_inspector"):
        user._lensfinder_is_inspector = user.groups.filter(name=INSPECTOR_GROUP).exists()
    return user._lensfinder_is_inspector


def admin_required(view: Callable) -> Callable:
    """403 for logged-in users who are not admins (anonymous users never get
    here: the login-required middleware sends them to the login page)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not is_admin(request.user):
            raise PermissionDenied("This page is for LensFinder admins.")
        return view(request, *args, **kwargs)

    return wrapper


def inspector_required(view: Callable) -> Callable:
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not is_inspector(request.user):
            raise PermissionDenied("This page is for inspectors.")
        return view(request, *args, **kwargs)

    return wrapper
