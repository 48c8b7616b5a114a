"""Reads of the audit trail: one object's history, the filtered list, and the extract of a period."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any, NotRequired, TypedDict

from django.db.models import QuerySet

from apps.audit.models import AuditEvent
from apps.core.isotime import iso_utc
from apps.core.rows import fast_rows


def audit_events_for(obj, *, limit: int = 100) -> QuerySet[AuditEvent]:
    """The newest events about one object (its history), actor preloaded."""
    meta = obj._meta
    return (
        AuditEvent.objects.filter(target_type=f"{meta.app_label}.{meta.model_name}", target_id=str(obj.pk))
        .select_related("actor")
        .order_by("-seq")[:limit]
    )


def audit_event_list(*, event_type: str = "", actor: str = "", target_type: str = "") -> QuerySet[AuditEvent]:
    qs = AuditEvent.objects.select_related("actor").order_by("-seq")
    if event_type:
        qs = qs.filter(event_type=event_type)
    if actor:
        qs = qs.filter(actor_label__icontains=actor)
    if target_type:
        qs = qs.filter(target_type=target_type)
    return qs


def audit_event_count_by(*, actor, event_type: str, since: datetime, uploaded_only: bool = False) -> int:
    """How many ``event_type`` events ``actor`` caused since ``since`` (the trail as a rate
    counter shared by every process: no cache to configure). ``uploaded_only``: only events
    whose ``changes`` name an uploaded file (``pack.verified`` of an upload)."""
    qs = AuditEvent.objects.filter(actor=actor, event_type=event_type, occurred_at__gte=since)
    if uploaded_only:
        qs = qs.exclude(changes__uploaded="")
    return qs.count()


class ExtractEvent(TypedDict):
    seq: int
    occurred_at: str | None
    actor: str
    event_type: str
    target_type: str
    target_id: str
    target: str
    changes: Any
    message: str
    hash: str
    redacted: NotRequired[list[str]]  # members of ``changes`` narrowed to what the extract's reader may see


AuditExtract = TypedDict(
    "AuditExtract",
    {
        "from": str | None,
        "to": str | None,
        "count": int,
        "by_type": dict[str, int],
        "head_hash": str | None,
        "events": list[ExtractEvent],
    },
)


def audit_extract(*, start: datetime, end: datetime, keep: Callable[[ExtractEvent], ExtractEvent | None] | None = None) -> AuditExtract:
    """The audit events from ``start`` to ``end`` (both included) in chain order, with the
    count per event type and the hash of the last one (None when there is none). Streamed: one query.

    ``keep`` decides, event by event, what the extract's reader may see: it returns the event
    (possibly narrowed, naming what it removed in ``redacted``) or None to leave it out."""
    qs = AuditEvent.objects.filter(occurred_at__gte=start, occurred_at__lte=end).order_by("seq")
    fields = ("seq", "occurred_at", "actor_label", "event_type", "target_type", "target_id", "target_repr", "changes", "message", "hash")
    events: list[ExtractEvent] = [
        {
            "seq": seq,
            "occurred_at": iso_utc(at),
            "actor": actor,
            "event_type": et,
            "target_type": tt,
            "target_id": tid,
            "target": trepr,
            "changes": changes,
            "message": message,
            "hash": h,
        }
        for seq, at, actor, et, tt, tid, trepr, changes, message, h in fast_rows(qs, fields)
    ]
    if keep is not None:
        events = [kept for kept in map(keep, events) if kept is not None]
    types = Counter(e["event_type"] for e in events)
    return {
        "from": iso_utc(start),
        "to": iso_utc(end),
        "count": len(events),
        "by_type": dict(sorted(types.items())),
        "head_hash": events[-1]["hash"] if events else None,
        "events": events,
    }
