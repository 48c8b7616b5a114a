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
