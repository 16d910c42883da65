from django.urls import reverse

from core.roles import is_admin, is_inspector

ADMIN_NAV = [
    ("Surveys", "inspection:surveys"),
    ("Runs", "inspection:runs"),
    ("Networks", "classifier:networks"),
    ("Campaigns", "inspection:campaigns"),
    ("Catalogues", "inspection:catalogues"),
    ("Inspectors", "inspection:inspectors"),
    ("Jobs", "core:jobs"),
]
INSPECTOR_NAV = [("My grading", "inspection:my_grading")]


def navigation(request):
    """The navigation bar for the user's role(s)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": [], "user_is_admin": False, "user_is_inspector": False}
    admin, inspector = is_admin(user), is_inspector(user)
    items = (INSPECTOR_NAV if inspector else []) + (ADMIN_NAV if admin else [])
    path = request.path
    nav = []
    for label, name in items:
        url = reverse(name)
        nav.append({"label": label, "url": url, "active": path.startswith(url)})
    return {"nav_items": nav, "user_is_admin": admin, "user_is_inspector": inspector}
