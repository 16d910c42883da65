from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse

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


class RequestSizeLimitMiddleware:
    """413 for a request body over the sender's limit, before it is read.

    Django spools uploaded files to disk whole, for anyone, before a view
    (or the CSRF check) runs: without this, an anonymous POST of a gigabyte
    to the login page fills /tmp. Admins, who upload catalogues and tiles,
    may send ``settings.MAX_UPLOAD_BYTES``; everyone else
    ``settings.MAX_REQUEST_BYTES``. A body without a Content-Length is never
    read by Django, so the header is all there is to check.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return HttpResponse("Bad Content-Length.", status=400, content_type="text/plain")
        if length > settings.MAX_REQUEST_BYTES:
            limit = (
                settings.MAX_UPLOAD_BYTES if is_admin(request.user) else settings.MAX_REQUEST_BYTES
            )
            if length > limit:
                return HttpResponse(
                    f"The request is too large ({length / 2**20:.1f} MiB; the limit is "
                    f"{limit / 2**20:.1f} MiB). Admins: give large files by their path on the "
                    "server, or raise LENSFINDER_MAX_UPLOAD_MB.",
                    status=413,
                    content_type="text/plain",
                )
        return self.get_response(request)
