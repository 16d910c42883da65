from django.conf import settings
from django.core.exceptions import PermissionDenied

from core.roles import is_admin


class StaffOnlyPrefixesMiddleware:
    """403 for logged-in non-admins under ``settings.STAFF_ONLY_PREFIXES``.

    Django admin and the rq dashboard answer a logged-in inspector with their
    own login form (status 200); a plain 403 says what is true: the page
    exists and this user may not see it.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.prefixes = tuple(settings.STAFF_ONLY_PREFIXES)

    def __call__(self, request):
        user = request.user
        if request.path.startswith(self.prefixes) and user.is_authenticated and not is_admin(user):
            raise PermissionDenied("This page is for LensFinder admins.")
        return self.get_response(request)
