"""Issuing, revoking and checking API tokens. Every change is audited in its transaction."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from apps.api.models import ApiToken
from apps.audit import events
from apps.core.errors import IllegalTransition, PermissionRefused, ValidationFailed
from apps.core.permissions import has_perm

PREFIX = "kt_"
PUBLIC_ID_BYTES = 6  # 12 hex characters: finds the row, proves nothing
SECRET_BYTES = 32  # 256 bits of entropy


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    plaintext: str  # shown once, never stored


class TokenRefused(Exception):
    """A presented token is unknown, malformed, expired or revoked (the request is 401)."""


def _digest(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def max_expiry(now=None) -> dt.datetime:
    return (now or timezone.now()) + dt.timedelta(days=settings.KEYTRAIL_API_TOKEN_MAX_DAYS)


def token_issue(*, actor, name: str, scope: str, expires_at: dt.datetime | None) -> IssuedToken:
    """Create a token for ``actor``; the plaintext is returned once. Raises ValidationFailed."""
    if not getattr(actor, "is_authenticated", False) or not actor.is_active:
        raise PermissionRefused("only an active user may hold an API token")
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationFailed("Name: give the token a name of 1 to 100 characters (what it is for).")
    if scope not in ApiToken.Scope.values:
        raise ValidationFailed(f"Scope: choose one of {', '.join(ApiToken.Scope.values)}.")
    now = timezone.now()
    if expires_at is None:
        raise ValidationFailed("Expiry: every token must expire; give a date.")
    if expires_at <= now:
        raise ValidationFailed("Expiry: the date must be in the future.")
    if expires_at > max_expiry(now) + dt.timedelta(minutes=1):
        raise ValidationFailed(
            f"Expiry: a token may last at most {settings.KEYTRAIL_API_TOKEN_MAX_DAYS} days (until {max_expiry(now):%Y-%m-%d})."
        )
    if ApiToken.objects.filter(user=actor, name=name, revoked_at__isnull=True, expires_at__gt=now).exists():
        raise ValidationFailed(f"Name: you already have an active token called {name!r}.")
    for attempt in range(3):
        public_id = secrets.token_hex(PUBLIC_ID_BYTES)
        plaintext = f"{PREFIX}{public_id}_{secrets.token_urlsafe(SECRET_BYTES)}"
        try:
            with transaction.atomic():
                token = ApiToken.objects.create(
                    user=actor, name=name, public_id=public_id, secret_sha256=_digest(plaintext), scope=scope, expires_at=expires_at
                )
                events.api_token_issued(actor=actor, token=token)
                return IssuedToken(token, plaintext)
        except IntegrityError:  # a public id collision (48 bits): draw again
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


@transaction.atomic
def token_revoke(*, actor, token: ApiToken) -> ApiToken:
    """Revoke a token now: its owner may, and whoever holds ``api.revoke_any_apitoken``."""
    token = ApiToken.objects.select_for_update().select_related("user").get(pk=token.pk)
    if actor.pk != token.user_id and not has_perm(actor, "api.revoke_any_apitoken"):
        raise PermissionRefused(f"{actor} may not revoke another user's token")
    if token.revoked_at:
        raise IllegalTransition(f"{token.name} is already revoked.")
    token.revoked_at, token.revoked_by = timezone.now(), actor
    token.save(update_fields=["revoked_at", "revoked_by"])
    events.api_token_revoked(actor=actor, token=token)
    return token


def token_authenticate(*, plaintext: str, ip: str | None = None, path: str = "") -> ApiToken:
    """The active token ``plaintext`` names, its last use recorded (throttled); TokenRefused otherwise.

    The row is found by its public id, then the whole token's hash is compared in constant
    time. Use of an expired or revoked token is audited.
    """
    parts = plaintext.split("_", 2) if plaintext.startswith(PREFIX) else []
    if len(parts) != 3 or len(parts[1]) != 2 * PUBLIC_ID_BYTES or not parts[2]:
        raise TokenRefused("malformed token")
    token = ApiToken.objects.select_related("user").filter(public_id=parts[1]).first()
    if token is None or not hmac.compare_digest(token.secret_sha256, _digest(plaintext)):
        raise TokenRefused("unknown token")
    now = timezone.now()
    state = token.state_at(now)
    if state != "active" or not token.user.is_active:
        reason = state if state != "active" else "owner deactivated"
        events.api_token_refused(token=token, reason=reason, path=path)
        raise TokenRefused(f"token {reason}")
    interval = dt.timedelta(seconds=settings.KEYTRAIL_API_TOKEN_LAST_USED_INTERVAL_SECONDS)
    if token.last_used_at is None or token.last_used_at <= now - interval:
        # One conditional UPDATE: concurrent requests write at most once per interval.
        ApiToken.objects.filter(Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - interval), pk=token.pk).update(
            last_used_at=now, last_used_ip=ip
        )
        token.last_used_at, token.last_used_ip = now, ip
    return token
