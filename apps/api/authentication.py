"""``Authorization: Bearer kt_...`` → the token's owner. Unknown, expired or revoked → 401."""

from __future__ import annotations

from dataclasses import replace

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from apps.api.services import TokenRefused, token_authenticate
from apps.audit.context import current_meta, set_meta


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None  # not ours: the session may authenticate
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Give one token: Authorization: Bearer kt_...")
        try:
            plaintext = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("The token is malformed.") from None
        try:
            token = token_authenticate(plaintext=plaintext, ip=request.META.get("REMOTE_ADDR") or None, path=request.get_full_path())
        except TokenRefused as exc:
            # One message for every refusal: which tokens exist is not disclosed.
            raise exceptions.AuthenticationFailed("The token is invalid, expired or revoked.") from exc
        # The audit trail says the change came through the API, not the UI.
        set_meta(replace(current_meta(), origin="api"))
        return token.user, token

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (not 403) to requests without valid credentials.
        return f'{self.keyword} realm="keytrail"'


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "apps.api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "kt_<public id>_<secret>"}
