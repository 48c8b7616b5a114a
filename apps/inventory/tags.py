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


def owner_from(tags: dict[str, str], attributes: dict | None = None) -> str:
    """The owner tag (:func:`owner_from_tags`), else the first owner the cloud itself names
    (``attributes["owners"]``: an Entra ID application's owners, users first), cut to 512."""
    tagged = owner_from_tags(tags)
    if tagged:
        return tagged
    owners = (attributes or {}).get("owners") if isinstance(attributes, dict) else None
    if isinstance(owners, list) and owners and isinstance(owners[0], str) and owners[0].strip():
        return owners[0].strip()[:512]
    return ""
