"""Who an IAM user is (human or not) and which listed access key fills which report slot."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from apps.connectors.aws.client import as_utc
from apps.connectors.aws.iam.report import ReportKey, parse_report_datetime
from apps.connectors.kinds import IdentityKind

KIND_TAG_KEYS = ("identity-type", "identity_type", "identitytype", "type")
SERVICE_TAG_VALUES = frozenset({"service", "machine", "non-human", "nonhuman", "automation", "system", "bot"})
HUMAN_TAG_VALUES = frozenset({"human", "person", "user", "employee"})


def identity_kind(tags: dict[str, str], password_enabled: bool | None) -> tuple[str, str]:
    """(IdentityKind, basis): an ``identity-type``/``type`` tag wins, else console password."""
    lowered = {key.strip().lower(): value for key, value in tags.items()}
    for key in KIND_TAG_KEYS:
        value = (lowered.get(key) or "").strip().lower()
        if value in SERVICE_TAG_VALUES:
            return IdentityKind.SERVICE.value, f"tag:{key}"
        if value in HUMAN_TAG_VALUES:
            return IdentityKind.HUMAN.value, f"tag:{key}"
    if password_enabled:
        return IdentityKind.HUMAN.value, "console_password"
    return IdentityKind.SERVICE.value, "no_console_password"


@dataclass
class ListedKey:
    access_key_id: str
    status: str
    created_at: datetime | None

    def to_state(self) -> dict[str, Any]:
        return {
            "id": self.access_key_id,
            "status": self.status,
            "created_at": self.created_at.isoformat() if self.created_at else None,
        }

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> ListedKey:
        return cls(str(data["id"]), str(data.get("status") or ""), parse_report_datetime(data.get("created_at")))

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> ListedKey:
        return cls(str(data["AccessKeyId"]), str(data.get("Status") or ""), as_utc(data.get("CreateDate")))


def _seconds(value: datetime | None) -> datetime | None:
    return value.replace(microsecond=0) if value else None


def match_keys(listed: list[ListedKey], slots: list[ReportKey]) -> list[tuple[ListedKey, ReportKey | None, str]]:
    """Pair ListAccessKeys results with report slots.

    The report's ``access_key_N_last_rotated`` is the key's creation time (to the
    second), so keys are matched on that; ties and leftovers are paired in creation
    order. A key absent from the report (created after it was generated) gets ``None``.
    Returns ``(key, slot or None, basis)`` with basis ``create_date``/``order``/``not_in_report``.
    """
    keys = sorted(listed, key=lambda k: (k.created_at or datetime.min.replace(tzinfo=UTC), k.access_key_id))
    free = list(keys)
    pairs: dict[str, tuple[ReportKey | None, str]] = {}
    unmatched_slots = []
    for slot in slots:
        match = next((k for k in free if slot.last_rotated and _seconds(k.created_at) == _seconds(slot.last_rotated)), None)
        if match is None:
            unmatched_slots.append(slot)
            continue
        free.remove(match)
        pairs[match.access_key_id] = (slot, "create_date")
    for slot, key in zip(unmatched_slots, list(free), strict=False):
        free.remove(key)
        pairs[key.access_key_id] = (slot, "order")
    for key in free:
        pairs[key.access_key_id] = (None, "not_in_report")
    return [(key, *pairs[key.access_key_id]) for key in keys]
