"""The columns of the audit trail's CSV and XLSX export (declared once, as data)."""

from __future__ import annotations

from apps.core.export import Column

AUDIT_COLUMNS = (
    Column("Seq", lambda e: e.seq),
    Column("When (UTC)", lambda e: e.occurred_at),
    Column("Who", lambda e: e.actor_label),
    Column("Event", lambda e: e.event_type),
    Column("Object type", lambda e: e.target_type),
    Column("Object id", lambda e: e.target_id),
    Column("Object", lambda e: e.target_repr),
    Column("Changes (JSON)", lambda e: e.changes or None),
    Column("Message", lambda e: e.message),
    Column("Origin", lambda e: e.origin),
    Column("IP address", lambda e: e.ip_address),
    Column("Hash", lambda e: e.hash),
    Column("Previous hash", lambda e: e.prev_hash),
)
