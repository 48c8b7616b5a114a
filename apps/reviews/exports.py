"""The columns of a campaign's review items and remediation exports (declared once, as data)."""

from __future__ import annotations

from apps.core.export import Column


def _owner(item) -> str:
    facts = item.facts if isinstance(item.facts, dict) else {}
    credential, identity = facts.get("credential") or {}, facts.get("identity") or {}
    return credential.get("owner") or identity.get("owner") or ""


ITEM_COLUMNS = (
    Column("Item id", lambda i: i.pk),
    Column("Subject", lambda i: i.subject),
    Column("Source", lambda i: ((i.facts or {}).get("source") or {}).get("name", "")),
    Column("Owner", _owner),
    Column("Failing rules at start", lambda i: list((i.facts or {}).get("verdicts") or [])),
    Column("Reviewer", lambda i: i.reviewer.username),
    Column("Assigned by", lambda i: i.assigned_by_rule),
    Column("Decision", lambda i: i.get_decision_display() if i.decision else "undecided"),
    Column("Justification", lambda i: i.justification),
    Column("Decided by", lambda i: i.decided_by.username if i.decided_by_id else ""),
    Column("Decided (UTC)", lambda i: i.decided_at),
    Column("Flagged", lambda i: i.flagged),
    Column("Credential id", lambda i: i.credential_id),
)

REMEDIATION_COLUMNS = (
    Column("Credential", lambda r: r.item.subject),
    Column("Credential id", lambda r: r.credential_id),
    Column("Action", lambda r: r.action),
    Column("Owner", lambda r: r.owner.username),
    Column("Due", lambda r: r.due_date),
    Column("State", lambda r: r.get_state_display()),
    Column("Decided (UTC)", lambda r: r.decided_at),
    Column("Verified (UTC)", lambda r: r.verified_at),
    Column("Verified by collection run", lambda r: r.verified_by_run_id),
)
