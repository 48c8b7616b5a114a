from rest_framework.permissions import SAFE_METHODS, BasePermission

from apps.api.models import ApiToken
from apps.audit import events


class TokenScope(BasePermission):
    """A read-only token may only read (403 on any unsafe method, except the actions a view lists in
    ``read_only_actions``: a POST that changes nothing but the audit trail, like verifying a pack).
    Sessions are not limited here. Every refusal is recorded as ``access.denied`` (docs/api.md),
    naming the token by its public id (never the secret) and the action refused."""

    message = "This API token is read-only; create a read-write token to change anything."

    def has_permission(self, request, view) -> bool:
        if isinstance(request.auth, ApiToken) and request.auth.scope != ApiToken.Scope.WRITE:
            action = getattr(view, "action", None)
            if request.method in SAFE_METHODS or action in getattr(view, "read_only_actions", ()):
                return True
            events.access_denied(
                actor=request.user,
                permission=f"api.write (read-only token {request.auth.public_id}: {request.method} {action or ''})".replace(" )", ")"),
                path=request.get_full_path(),
            )
            return False
        return True
