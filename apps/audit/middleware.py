import uuid

from apps.audit.context import RequestMeta, reset_meta, set_meta


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
