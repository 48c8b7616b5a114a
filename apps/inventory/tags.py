"""What the inventory reads from a cloud object's tags."""

from __future__ import annotations

from django.conf import settings


def owner_from_tags(tags: dict[str, str]) -> str:
    """The first non-empty tag among the configured owner keys (``KEYTRAIL_OWNER_TAG_KEYS``,
    case-insensitive), stripped and cut to 512 characters; "" when none is set."""
    lowered = {k.lower(): v for k, v in tags.items()}
    for key in settings.KEYTRAIL_OWNER_TAG_KEYS:
        value = lowered.get(key.lower())
        if value and value.strip():
            return value.strip()[:512]
    return ""
