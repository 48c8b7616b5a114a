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


@dataclass(slots=True)  # one per user of the account: no per-instance __dict__
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


# The report writes creation times to the second (moto truncates, AWS may round) while
# ListAccessKeys may carry fractions: an exact match to the second is preferred, then one
# within this tolerance.
MATCH_TOLERANCE_SECONDS = 1.0


def _seconds(value: datetime | None) -> datetime | None:
    return value.replace(microsecond=0) if value else None


def match_keys(listed: list[ListedKey], slots: list[ReportKey]) -> list[tuple[ListedKey, ReportKey | None, str]]:
    """Pair ListAccessKeys results with report slots by creation time, never by position.

    The report's ``access_key_N_last_rotated`` is the key's creation time, so a slot
    belongs to the live key created in the same second (or, failing that, within
    ``MATCH_TOLERANCE_SECONDS``: format and precision differ between the two APIs). Keys
    created in one second are paired with such slots in creation order. A live key that
    matches no slot was created after the report was generated (or the slot's date is
    unreadable): it gets ``None`` and its facts must come from elsewhere
    (``GetAccessKeyLastUsed``). A slot that matches no live key belonged to a key deleted
    since the report and is ignored: pairing it by position would hand a new key the
    deleted key's last use.
    Returns ``(key, slot or None, basis)`` with basis ``create_date``/``not_in_report``.
    """
    keys = sorted(listed, key=lambda k: (k.created_at or datetime.min.replace(tzinfo=UTC), k.access_key_id))
    free = [k for k in keys if k.created_at is not None]
    pairs: dict[str, ReportKey] = {}
    dated = sorted(
        (s for s in slots if s.last_rotated is not None), key=lambda s: (s.last_rotated or datetime.min.replace(tzinfo=UTC), s.slot)
    )
    pending = []
    for slot in dated:
        match = next((k for k in free if _seconds(k.created_at) == _seconds(slot.last_rotated)), None)
        if match is None:
            pending.append(slot)
            continue
        free.remove(match)
        pairs[match.access_key_id] = slot
    for slot in pending:
        distance = {
            k.access_key_id: abs((k.created_at - slot.last_rotated).total_seconds())
            for k in free
            if k.created_at is not None and slot.last_rotated is not None
        }
        close = [k for k in free if distance.get(k.access_key_id, MATCH_TOLERANCE_SECONDS + 1) <= MATCH_TOLERANCE_SECONDS]
        if close:
            match = min(close, key=lambda k: distance[k.access_key_id])
            free.remove(match)
            pairs[match.access_key_id] = slot
    result: list[tuple[ListedKey, ReportKey | None, str]] = []
    for key in keys:
        paired = pairs.get(key.access_key_id)
        result.append((key, paired, "create_date" if paired else "not_in_report"))
    return result
