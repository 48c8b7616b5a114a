import re
import uuid

from django.core.exceptions import PermissionDenied

from apps.audit import events
from apps.audit.context import RequestMeta, reset_meta, set_meta
from apps.core.errors import PermissionRefused

# A request id as proxies generate them (nginx's $request_id: 32 hex digits; or a UUID). Anything
# else a client sends is not stored: a fresh id is generated instead.
REQUEST_ID = re.compile(r"[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
USER_AGENT_MAX = 300  # the column's length
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def request_id_from(header: str) -> str:
    """The client's X-Request-ID when it has the strict format (lower-cased), else a new one."""
    candidate = header.strip().lower()
    return candidate if REQUEST_ID.fullmatch(candidate) else uuid.uuid4().hex


def user_agent_from(header: str) -> str:
    """The User-Agent cut to USER_AGENT_MAX characters, control characters made visible as ``?``."""
    return _CONTROL.sub("?", header[:USER_AGENT_MAX])


class AuditContextMiddleware:
    """Makes the request's origin (IP, user agent, request id) available to audit events."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        meta = RequestMeta(
            ip_address=request.META.get("REMOTE_ADDR") or None,
            user_agent=user_agent_from(request.META.get("HTTP_USER_AGENT", "")),
            request_id=request_id_from(request.META.get("HTTP_X_REQUEST_ID", "")),
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
