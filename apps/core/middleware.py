from django.conf import settings
from django.core.exceptions import PermissionDenied

from apps.audit import events
from apps.core.errors import PermissionRefused


class PermissionRefusedMiddleware:
    """A service that refuses (PermissionRefused) becomes a recorded 403."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, PermissionRefused):
            events.access_denied(actor=request.user, permission=str(exception), path=request.get_full_path())
            raise PermissionDenied(str(exception))
        return None


class SecurityHeadersMiddleware:
    """Headers Django does not set itself: Permissions-Policy, and no caching of pages that
    hold credential metadata or evidence (browsers and proxies keep nothing)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        if not request.path.startswith(settings.STATIC_URL if settings.STATIC_URL.startswith("/") else "/" + settings.STATIC_URL):
            response.setdefault("Cache-Control", "no-store")
        return response
