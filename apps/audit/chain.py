"""The hash chain: how an event's digest is computed and how the chain is verified."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from apps.core.canonical import canonical_json

GENESIS_HASH = "0" * 64


def event_digest(
    *,
    seq: int,
    occurred_at: str,
    actor_id: int | None,
    actor_label: str,
    event_type: str,
    target_type: str,
    target_id: str,
    target_repr: str,
    changes: Any,
    message: str,
    ip_address: str | None,
    user_agent: str,
    request_id: str,
    origin: str,
    prev_hash: str,
) -> str:
    payload = {
        "seq": seq,
        "occurred_at": occurred_at,
        "actor_id": actor_id,
        "actor_label": actor_label,
        "event_type": event_type,
        "target_type": target_type,
        "target_id": target_id,
        "target_repr": target_repr,
        "changes": changes,
        "message": message,
        "ip_address": ip_address,
        "user_agent": user_agent,
        "request_id": request_id,
        "origin": origin,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


def digest_of(event) -> str:
    """Recompute the digest of a stored AuditEvent row."""
    return event_digest(
        seq=event.seq,
        occurred_at=event.occurred_at.isoformat(),
        actor_id=event.actor_id,
        actor_label=event.actor_label,
        event_type=event.event_type,
        target_type=event.target_type,
        target_id=event.target_id,
        target_repr=event.target_repr,
        changes=event.changes,
        message=event.message,
        ip_address=event.ip_address,
        user_agent=event.user_agent,
        request_id=event.request_id,
        origin=event.origin,
        prev_hash=event.prev_hash,
    )


@dataclass
class ChainReport:
    ok: bool
    checked: int
    head_hash: str
    broken_seq: int | None = None
    reason: str = ""


def verify_chain(events, *, expect_head: str | None = None) -> ChainReport:
    """Walk ``events`` (ordered by seq ascending) and report the first broken link.

    Detects an edited row (digest mismatch), a deleted row (gap in ``seq`` or a
    ``prev_hash`` that does not match), and, given ``expect_head`` (a head hash recorded
    elsewhere, e.g. in an evidence pack), deletion of the newest rows.
    """
    prev_hash = GENESIS_HASH
    expected_seq = 1
    checked = 0
    for event in events:
        if event.seq != expected_seq:
            return ChainReport(
                False, checked, prev_hash, event.seq, f"sequence gap: expected #{expected_seq}, found #{event.seq} (a row was deleted)"
            )
        if event.prev_hash != prev_hash:
            return ChainReport(False, checked, prev_hash, event.seq, f"event #{event.seq} does not link to the previous event's hash")
        recomputed = digest_of(event)
        if recomputed != event.hash:
            return ChainReport(
                False, checked, prev_hash, event.seq, f"event #{event.seq} was modified: its content no longer matches its hash"
            )
        prev_hash = event.hash
        expected_seq += 1
        checked += 1
    if expect_head and expect_head != prev_hash:
        return ChainReport(
            False,
            checked,
            prev_hash,
            None,
            f"the chain's head {prev_hash[:12]}… is not the expected {expect_head[:12]}… (newest events removed or chain replaced)",
        )
    return ChainReport(True, checked, prev_hash)
