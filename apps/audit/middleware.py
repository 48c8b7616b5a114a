import uuid

from django.core.exceptions import PermissionDenied

from apps.audit import events
from apps.audit.context import RequestMeta, reset_meta, set_meta
from apps.core.errors import PermissionRefused


class AuditContextMiddleware:
    """Makes the request's origin (IP, user agent, request id) available to audit events."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        meta = RequestMeta(
            ip_address=request.META.get("REMOTE_ADDR") or None,
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
            request_id=request.META.get("HTTP_X_REQUEST_ID", "")[:64] or uuid.uuid4().hex,
            origin="web",
        )
        token = set_meta(meta)
        try:
            return self.get_response(request)
        finally:
            reset_meta(token)


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
