"""The columns of the findings list's CSV and XLSX export (declared once, as data)."""

from __future__ import annotations

from apps.core.export import Column
from apps.evaluation.selectors import finding_is_overdue

FINDING_COLUMNS = (
    Column("Rule", lambda f: f.rule_id),
    Column("Status", lambda f: f.status),
    Column("Severity", lambda f: f.severity),
    Column("Subject type", lambda f: f.subject_type),
    Column("Subject", lambda f: f.subject_label),
    Column("Reason", lambda f: f.reason),
    Column("Source", lambda f: f.source.name),
    Column("Owner", lambda f: f.owner),
    Column("Failing since (UTC)", lambda f: f.failing_since),
    Column("Due on", lambda f: f.due_on),
    Column("Overdue", lambda f: finding_is_overdue(f) if f.due_on else None),
    Column("Exception id", lambda f: f.exception_id),
    Column("Credential id", lambda f: f.credential_id),
    Column("Identity id", lambda f: f.identity_id),
    Column("Snapshot id", lambda f: f.snapshot_id),
)
