from rest_framework.permissions import SAFE_METHODS, BasePermission

from apps.api.models import ApiToken


class TokenScope(BasePermission):
    """A read-only token may only read (403 on any unsafe method). Sessions are not limited here."""

    message = "This API token is read-only; create a read-write token to change anything."

    def has_permission(self, request, view) -> bool:
        if isinstance(request.auth, ApiToken) and request.auth.scope != ApiToken.Scope.WRITE:
            return request.method in SAFE_METHODS
        return True
