"""Cleaning the parts of a scope that registers share (exceptions, access reviews)."""

from __future__ import annotations

from apps.core.errors import ValidationFailed


def clean_ids(values, label: str) -> list[int]:
    """Sorted unique ints; raises ValidationFailed naming ``label``."""
    try:
        return sorted({int(v) for v in values or []})
    except (TypeError, ValueError):
        raise ValidationFailed(f"Scope: {label} must be numbers.") from None


def clean_tag(tag) -> dict | None:
    """``{"key", "value"}`` stripped, or None when empty; raises ValidationFailed when half-filled or too long."""
    if not tag:
        return None
    key, value = str(tag.get("key", "")).strip(), str(tag.get("value", "")).strip()
    if not key or not value or len(key) > 128 or len(value) > 256:
        raise ValidationFailed("Scope: a tag needs a key (≤ 128 characters) and a value (≤ 256).")
    return {"key": key, "value": value}
