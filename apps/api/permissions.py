from rest_framework.permissions import SAFE_METHODS, BasePermission

from apps.api.models import ApiToken


class TokenScope(BasePermission):
    """A read-only token may only read (403 on any unsafe method, except the actions a view lists in
    ``read_only_actions``: a POST that changes nothing but the audit trail, like verifying a pack).
    Sessions are not limited here."""

    message = "This API token is read-only; create a read-write token to change anything."

    def has_permission(self, request, view) -> bool:
        if isinstance(request.auth, ApiToken) and request.auth.scope != ApiToken.Scope.WRITE:
            return request.method in SAFE_METHODS or getattr(view, "action", None) in getattr(view, "read_only_actions", ())
        return True
