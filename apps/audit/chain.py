"""The hash chain: how an event's digest is computed and how the chain is verified."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
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
    head_seq: int = 0
    anchors_checked: int = 0
    problems: list[str] = field(default_factory=list)  # every problem found, the first one also in ``reason``


@dataclass
class _Seen:
    """What the walk noted for the anchors: the hash and time at each anchored seq, and the
    newest event with each anchored head time (to recognise a renumbered head)."""

    at_seq: dict[int, tuple[str, str | None]] = field(default_factory=dict)
    by_time: dict[str, int] = field(default_factory=dict)


def _parse_expect(expect_head: str | None) -> tuple[int | None, str] | None:
    if not expect_head:
        return None
    seq, sep, head = expect_head.strip().rpartition(":")
    if sep and seq.isdigit():
        return int(seq), head.lower()
    return None, expect_head.strip().lower()


def verify_chain(events, *, expect_head: str | None = None, anchors=(), expected_events: dict[int, str] | None = None) -> ChainReport:
    """Walk ``events`` (ordered by seq ascending), check every link, and check the chain
    against each anchor and expectation given. Returns every problem; ``broken_seq`` and
    ``checked`` describe the first broken link.

    Links: an edited row (digest mismatch), a deleted row (gap in ``seq`` or a ``prev_hash``
    that does not match). Those alone miss a chain rewritten with the digest function;
    ``anchors`` (signature-checked :class:`apps.audit.checkpoints.Anchor`) catch it — the
    anchored seq must still carry the anchored hash: re-hashing (the anchored event is there,
    its hash changed), renumbering (the anchored event moved to another seq) and truncation
    (the chain ends before the anchored seq) are named as such. ``expect_head`` (``HASH`` or
    ``SEQ:HASH``, e.g. a pack's recorded head) must still be in the chain, however many
    events came after it. ``expected_events`` (``{seq: hash}``, e.g. a pack's extract) must
    all be in the chain unchanged."""
    anchors = list(anchors)
    wanted_seqs = {a.seq for a in anchors}
    # Anchored head times as datetimes: comparing those per event is cheaper than formatting each.
    wanted_times = {_parse_time(a.head_at): a.head_at for a in anchors if a.head_at}
    expect = _parse_expect(expect_head)
    expected = dict(expected_events or {})
    seen = _Seen()
    expect_found = False
    changed_expected: list[int] = []
    prev_hash, expected_seq, checked = GENESIS_HASH, 1, 0
    broken: tuple[int, str] | None = None
    last_seq, last_hash = 0, GENESIS_HASH
    for event in events:
        last_seq, last_hash = event.seq, event.hash
        if broken is None:
            if event.seq != expected_seq:
                broken = (event.seq, f"sequence gap: expected #{expected_seq}, found #{event.seq} (a row was deleted)")
            elif event.prev_hash != prev_hash:
                broken = (event.seq, f"event #{event.seq} does not link to the previous event's hash")
            elif digest_of(event) != event.hash:
                broken = (event.seq, f"event #{event.seq} was modified: its content no longer matches its hash")
            else:
                prev_hash = event.hash
                expected_seq += 1
                checked += 1
        if event.seq in wanted_seqs:
            seen.at_seq[event.seq] = (event.hash, wanted_times.get(event.occurred_at))
        if event.occurred_at in wanted_times:
            seen.by_time[wanted_times[event.occurred_at]] = event.seq
        if expect is not None and event.hash == expect[1] and expect[0] in (None, event.seq):
            expect_found = True
        if event.seq in expected and expected.pop(event.seq) != event.hash:
            changed_expected.append(event.seq)

    problems: list[str] = [broken[1]] if broken else []
    good: list[int] = []
    for anchor in sorted(anchors, key=lambda a: (a.seq, a.created_at)):
        problem = _anchor_problem(anchor, seen, last_seq)
        if problem:
            problems.append(problem)
        else:
            good.append(anchor.seq)
    if problems and good and len(problems) > (1 if broken else 0):
        problems.append(f"the chain still matches the anchors up to #{max(good)}: what changed lies after it")
    if expect is not None and not expect_found:
        where = f"at #{expect[0]}" if expect[0] is not None else "anywhere"
        problems.append(
            f"the expected head {expect[1][:12]}… is not in the chain {where} (the chain up to it was rewritten, or it was removed)"
        )
    if changed_expected:
        problems.append(
            f"{len(changed_expected)} event(s) of the pack's audit extract have another hash in the chain now "
            f"(first #{changed_expected[0]}): they were rewritten"
        )
    if expected:
        missing = sorted(expected)
        problems.append(f"{len(missing)} event(s) of the pack's audit extract are no longer in the chain (first #{missing[0]})")
    return ChainReport(
        ok=not problems,
        checked=checked,
        head_hash=prev_hash if broken else last_hash,
        broken_seq=broken[0] if broken else None,
        reason=problems[0] if problems else "",
        head_seq=last_seq,
        anchors_checked=len(anchors),
        problems=problems,
    )


def _parse_time(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None


def _anchor_problem(anchor, seen: _Seen, last_seq: int) -> str:
    """Why the chain disagrees with ``anchor`` ("" when it agrees)."""
    if anchor.seq == 0:
        return ""  # signed when the chain was empty: every chain extends it
    signed = f"{anchor.label} (signed {anchor.created_at}) anchors #{anchor.seq} = {anchor.head_hash[:12]}…"
    moved_to = seen.by_time.get(anchor.head_at) if anchor.head_at else None
    if anchor.seq in seen.at_seq:
        found_hash, found_at = seen.at_seq[anchor.seq]
        if found_hash == anchor.head_hash:
            return ""
        if found_at == anchor.head_at:
            return (
                f"RE-HASHED: {signed}, but #{anchor.seq} now hashes to {found_hash[:12]}…: "
                "it or an earlier event was changed and the chain re-hashed from there"
            )
        if moved_to is not None and moved_to != anchor.seq:
            return _renumbered(signed, anchor, moved_to)
        return f"REWRITTEN: {signed}, but #{anchor.seq} is now another event ({found_hash[:12]}…): the chain up to it was replaced"
    if moved_to is not None:
        return _renumbered(signed, anchor, moved_to)
    return f"TRUNCATED: {signed}, but the chain ends at #{last_seq}: at least {anchor.seq - last_seq} of the newest events were removed"


def _renumbered(signed: str, anchor, moved_to: int) -> str:
    delta = anchor.seq - moved_to
    how = f"{delta} event(s) before it were removed" if delta > 0 else f"{-delta} event(s) were inserted before it"
    return (
        f"RENUMBERED: {signed}, but the anchored head event (occurred {anchor.head_at}) is now #{moved_to}: {how} and the chain renumbered"
    )
