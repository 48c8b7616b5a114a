"""The manifest's signature: Ed25519 with a key from settings.

Ed25519 rather than HMAC because the party who checks a pack (an auditor) should be able to
verify without being able to sign: with HMAC, whoever can verify can also forge. The public
key is published on every pack's page and in the manifest; ``verify_pack`` trusts only the
configured key (or one given with ``--public-key``), never the key inside the manifest alone.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

ALGORITHM = "Ed25519"


def _private_key() -> Ed25519PrivateKey:
    configured = settings.KEYTRAIL_PACK_SIGNING_KEY
    if configured:
        seed = bytes.fromhex(configured)
        if len(seed) != 32:
            raise ValueError("KEYTRAIL_PACK_SIGNING_KEY must be 32 bytes, hex-encoded (64 characters)")
    elif settings.KEYTRAIL_PACK_SIGNING_KEY_REQUIRED:
        raise ImproperlyConfigured("KEYTRAIL_PACK_SIGNING_KEY is not set (production signs only with its own key)")
    else:
        # Demo and tests only (production.py requires the setting): a key derived from SECRET_KEY.
        seed = hashlib.sha256(b"keytrail-pack-signing|" + settings.SECRET_KEY.encode()).digest()
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key_hex() -> str:
    return _private_key().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def trusted_public_keys() -> list[str]:
    """The keys a pack may be signed with: the current one, then the retired ones kept in
    KEYTRAIL_PACK_RETIRED_PUBLIC_KEYS (hex), so packs signed before a key rotation still verify."""
    return [public_key_hex(), *(k.strip().lower() for k in settings.KEYTRAIL_PACK_RETIRED_PUBLIC_KEYS if k.strip())]


def key_id(public_hex: str) -> str:
    return hashlib.sha256(bytes.fromhex(public_hex)).hexdigest()[:16]


def sign(message: bytes) -> dict:
    public = public_key_hex()
    return {
        "algorithm": ALGORITHM,
        "public_key": public,
        "key_id": key_id(public),
        "value": base64.b64encode(_private_key().sign(message)).decode(),
    }


def verify(message: bytes, signature_b64: str, public_hex: str) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_hex)).verify(base64.b64decode(signature_b64, validate=True), message)
    except (InvalidSignature, ValueError):
        return False
    return True
