"""Writing audit events. Callers use the named functions in apps.audit.events."""

from __future__ import annotations

import json
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from apps.audit.chain import GENESIS_HASH, event_digest
from apps.audit.context import current_meta
from apps.audit.models import AuditEvent

# Any constant works; it names the advisory lock that serialises writers of the chain.
_CHAIN_LOCK_KEY = 0x6B657974  # "keyt"


class AuditOutsideTransaction(RuntimeError):
    """An audit event must be written in the same transaction as the change it records."""


def _jsonable(value: Any) -> Any:
    # Round-trip so that what we hash is exactly what the database will return.
    return json.loads(json.dumps(value, default=str, ensure_ascii=False))


def _target_fields(target) -> tuple[str, str, str]:
    if target is None:
        return "", "", ""
    if isinstance(target, tuple):
        target_type, target_id, target_repr = target
        return target_type, str(target_id), str(target_repr)[:300]
    meta = target._meta
    return f"{meta.app_label}.{meta.model_name}", str(target.pk), str(target)[:300]


def audit_record(
    *,
    event_type: str,
    actor=None,
    actor_label: str = "",
    target=None,
    changes: dict | None = None,
    message: str = "",
    require_transaction: bool = True,
) -> AuditEvent:
    """Append one event to the chain and return it.

    ``target`` is a model instance or a ``(type, id, repr)`` tuple. Raises
    :class:`AuditOutsideTransaction` when called outside ``transaction.atomic`` (unless
    ``require_transaction`` is False, used only for refusals, which change nothing).
    """
    if require_transaction and not connection.in_atomic_block:
        raise AuditOutsideTransaction(f"audit event {event_type!r} written outside a transaction")
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
        last = AuditEvent.objects.order_by("-seq").only("seq", "hash").first()
        seq = (last.seq + 1) if last else 1
        prev_hash = last.hash if last else GENESIS_HASH
        meta = current_meta()
        target_type, target_id, target_repr = _target_fields(target)
        actor_id = actor.pk if actor is not None and getattr(actor, "pk", None) else None
        label = actor_label or (actor.get_username() if actor_id else f"system:{meta.origin}")
        fields = {
            "seq": seq,
            "occurred_at": timezone.now(),
            "actor_id": actor_id,
            "actor_label": label[:150],
            "event_type": event_type,
            "target_type": target_type,
            "target_id": target_id,
            "target_repr": target_repr,
            "changes": _jsonable(changes or {}),
            "message": message,
            "ip_address": meta.ip_address,
            "user_agent": meta.user_agent,
            "request_id": meta.request_id,
            "origin": meta.origin,
            "prev_hash": prev_hash,
        }
        digest = event_digest(**{**fields, "occurred_at": fields["occurred_at"].isoformat()})
        return AuditEvent.objects.create(**fields, hash=digest)


def audit_record_many(*, event_type: str, actor=None, actor_label: str = "", entries: list[dict]) -> int:
    """Append one event per entry (``{"target", "changes", "message"}``) with one lock, one read
    of the chain's head and one INSERT, chaining each to the one before. Same rules as
    :func:`audit_record` (refuses outside a transaction). Returns how many were written."""
    if not connection.in_atomic_block:
        raise AuditOutsideTransaction(f"audit events {event_type!r} written outside a transaction")
    if not entries:
        return 0
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
        last = AuditEvent.objects.order_by("-seq").only("seq", "hash").first()
        seq = last.seq if last else 0
        prev_hash = last.hash if last else GENESIS_HASH
        meta = current_meta()
        actor_id = actor.pk if actor is not None and getattr(actor, "pk", None) else None
        label = (actor_label or (actor.get_username() if actor_id else f"system:{meta.origin}"))[:150]
        now = timezone.now()
        rows = []
        for entry in entries:
            seq += 1
            target_type, target_id, target_repr = _target_fields(entry.get("target"))
            fields = {
                "seq": seq,
                "occurred_at": now,
                "actor_id": actor_id,
                "actor_label": label,
                "event_type": event_type,
                "target_type": target_type,
                "target_id": target_id,
                "target_repr": target_repr,
                "changes": _jsonable(entry.get("changes") or {}),
                "message": entry.get("message", ""),
                "ip_address": meta.ip_address,
                "user_agent": meta.user_agent,
                "request_id": meta.request_id,
                "origin": meta.origin,
                "prev_hash": prev_hash,
            }
            prev_hash = event_digest(**{**fields, "occurred_at": now.isoformat()})
            rows.append(AuditEvent(**fields, hash=prev_hash))
        AuditEvent.objects.bulk_create(rows, batch_size=2000)
        return len(rows)


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """``{field: [old, new]}`` for the fields whose value changed."""
    return {k: [before.get(k), after.get(k)] for k in after if before.get(k) != after.get(k)}
