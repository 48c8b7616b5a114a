"""The columns of the exception register's CSV and XLSX export (declared once, as data)."""

from __future__ import annotations

from apps.core.export import Column
from apps.exceptions_register.selectors import scope_summary

EXCEPTION_COLUMNS = (
    Column("Ref", lambda e: e.ref),
    Column("Title", lambda e: e.title),
    Column("Rules", lambda e: list(e.rule_ids or [])),
    Column("Scope", scope_summary),
    Column("Scope (JSON)", lambda e: e.scope or None),
    Column("Risk", lambda e: e.risk),
    Column("State", lambda e: e.get_state_display()),
    Column("Owner", lambda e: e.owner.username),
    Column("Requester", lambda e: e.requester.username),
    Column("Approvals", lambda e: e.approvals),
    Column("Approvals required", lambda e: e.required_approvals),
    Column("Expires on", lambda e: e.expires_on),
    Column("Ticket", lambda e: e.ticket_ref),
    Column("Justification", lambda e: e.justification),
    Column("Compensating controls", lambda e: e.compensating_controls),
    Column("Created (UTC)", lambda e: e.created_at),
    Column("Submitted (UTC)", lambda e: e.submitted_at),
    Column("Decided (UTC)", lambda e: e.decided_at),
    Column("Ended (UTC)", lambda e: e.ended_at),
)
