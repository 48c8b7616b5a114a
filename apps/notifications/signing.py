"""Webhook secrets: made here, stored encrypted, used to sign each delivery.

A signing secret must be read back to sign, so it cannot be stored as a hash like a password.
It is encrypted with Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``) under a key
derived (HKDF-SHA256) from ``KEYTRAIL_WEBHOOK_ENCRYPTION_KEY`` — by default Django's
SECRET_KEY — so a copy of the database alone does not give the secrets away. The plain secret is
shown to the GRC lead once, when it is made, and never again.

Signature (docs/notifications.md): ``X-Keytrail-Signature: t=<unix seconds>,v1=<hex>`` where
``hex = HMAC-SHA256(secret, "<t>.<body>")``; the receiver recomputes it and refuses an old ``t``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

PREFIX = "whsec_"


def _fernet() -> Fernet:
    master = (settings.KEYTRAIL_WEBHOOK_ENCRYPTION_KEY or settings.SECRET_KEY).encode()
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"keytrail-webhook-secrets", info=b"fernet").derive(master)
    return Fernet(base64.urlsafe_b64encode(key))


def new_secret() -> str:
    """A fresh signing secret (256 bits)."""
    return PREFIX + secrets.token_urlsafe(32)


def encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def decrypt(token: str) -> str:
    """The plain secret; ValueError when the encryption key changed (the secret must be rotated)."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("the endpoint's secret cannot be decrypted with the current key; rotate it") from exc


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The value of X-Keytrail-Signature for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, header: str, body: bytes, *, now: int, tolerance: int = 300) -> bool:
    """What a receiver does (used by the tests and shown in the docs): the MAC matches and the
    timestamp is recent."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    expected = signature(secret, timestamp, body).split("v1=", 1)[1]
    return abs(now - timestamp) <= tolerance and hmac.compare_digest(expected, parts.get("v1", ""))
