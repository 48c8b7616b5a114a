"""Timestamps as the evidence pack and other exports write them: ISO 8601 in UTC with a ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload


@overload
def iso_utc(value: datetime) -> str: ...
@overload
def iso_utc(value: None) -> None: ...
@overload
def iso_utc(value: datetime | None) -> str | None: ...


def iso_utc(value: datetime | None) -> str | None:
    """``value`` in UTC as ISO 8601 ending in ``Z`` (``2026-03-01T09:00:00Z``); None stays None."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def iso_utc_text(value: str | None) -> str | None:
    """An ISO 8601 string as stored in version data, normalised to UTC with a ``Z``. Empty
    gives None; text that is not an ISO time is returned as it is (never dropped)."""
    if not value:
        return None
    try:
        return iso_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except (TypeError, ValueError):
        return str(value)


def parse_iso(value: str | None) -> datetime | None:
    """An ISO 8601 string (``Z`` allowed) as a datetime; empty gives None. Raises ValueError
    for text that is not an ISO time."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None
