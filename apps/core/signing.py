"""Ed25519 signatures with a key from settings: the one primitive behind every signature
keytrail makes (audit checkpoints here; evidence manifests have their own copy in
``apps.evidence.signing``, which derives the same default key).

Ed25519 rather than HMAC because whoever checks a signature (an auditor, an operator with a
backup of the anchors) should be able to verify without being able to sign.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ALGORITHM = "Ed25519"
# The label of the key derived from SECRET_KEY when no key is configured (demo and tests).
# The same label as the pack-signing key's, so by default both sign with one key.
DERIVED_LABEL = b"keytrail-pack-signing|"


def private_key(*, configured_hex: str, setting: str, secret_key: str) -> Ed25519PrivateKey:
    """The key from ``configured_hex`` (32 bytes, hex), or derived from ``secret_key`` when empty.

    Raises ValueError naming ``setting`` when the configured value is not 32 hex bytes."""
    if configured_hex:
        try:
            seed = bytes.fromhex(configured_hex)
        except ValueError:
            seed = b""
        if len(seed) != 32:
            raise ValueError(f"{setting} must be 32 bytes, hex-encoded (64 characters)")
    else:
        seed = hashlib.sha256(DERIVED_LABEL + secret_key.encode()).digest()
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_hex(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def key_id(public_key_hex: str) -> str:
    return hashlib.sha256(bytes.fromhex(public_key_hex)).hexdigest()[:16]


def sign(key: Ed25519PrivateKey, message: bytes) -> dict[str, str]:
    """``{"algorithm", "public_key", "key_id", "value"}``, the value base64."""
    public = public_hex(key)
    return {"algorithm": ALGORITHM, "public_key": public, "key_id": key_id(public), "value": base64.b64encode(key.sign(message)).decode()}


def verify(message: bytes, signature_b64: str, public_key_hex: str) -> bool:
    """True when ``signature_b64`` is ``public_key_hex``'s Ed25519 signature of ``message``."""
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex)).verify(base64.b64decode(signature_b64, validate=True), message)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True
