"""System checks for the pack-signing key (``manage.py check``; ``check --deploy`` in production).

Without a configured key, manifests are signed with a key derived from ``SECRET_KEY``: fine for
the demo and tests, wrong in production, where the signing key must be its own secret (and one
that can be rotated or kept in a KMS without touching sessions). An empty or short key must
stop a deployment, not quietly fall back."""

from __future__ import annotations

import string

from django.conf import settings
from django.core.checks import Error, Tags, register

KEY_HEX_LENGTH = 64  # 32 bytes: an Ed25519 seed


def _key_problem(configured: str) -> str:
    if len(configured) != KEY_HEX_LENGTH or not set(configured) <= set(string.hexdigits):
        return f"it is {len(configured)} characters; it must be 32 bytes hex-encoded ({KEY_HEX_LENGTH} hex digits)"
    return ""


@register(Tags.security)
def pack_signing_key_well_formed(app_configs, **kwargs) -> list[Error]:
    """A configured key that cannot be used (not 64 hex digits) is an error everywhere."""
    configured = settings.KEYTRAIL_PACK_SIGNING_KEY
    problem = _key_problem(configured) if configured else ""
    if problem:
        return [
            Error(
                f"KEYTRAIL_PACK_SIGNING_KEY is malformed: {problem}.",
                hint="Generate one: python -c 'import os; print(os.urandom(32).hex())'",
                id="keytrail.E002",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def pack_signing_key_configured(app_configs, **kwargs) -> list[Error]:
    """``check --deploy``: the key must be set (no derivation from SECRET_KEY in production)."""
    if not settings.KEYTRAIL_PACK_SIGNING_KEY:
        return [
            Error(
                "KEYTRAIL_PACK_SIGNING_KEY is not set: evidence-pack manifests would be signed with a key derived from SECRET_KEY.",
                hint="Set it to 32 random bytes, hex-encoded: python -c 'import os; print(os.urandom(32).hex())'",
                id="keytrail.E001",
            )
        ]
    return []
