"""The spreadsheet for testing: one sheet per population, from the pack's data dict.

openpyxl in ``write_only`` mode streams rows to disk (20,000 credentials stay a few MB of
memory). Every text cell is written as a string cell with ``quotePrefix``: a cloud tag such
as ``=HYPERLINK(...)`` or ``+cmd`` stays text when opened, and stays text after a user edits
the cell (:mod:`.sheet`). Credential kinds with facts of their own also get their own sheets
(:mod:`.xlsx_kinds`).
"""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook

from apps.evidence.packdata import PackData
from apps.evidence.renderers.sheet import BOOL, DATE, DATETIME, FORMULA_STARTS, INT, MAX_CELL, TEXT
from apps.evidence.renderers.sheet import Sheet as _Sheet
from apps.evidence.renderers.xlsx_kinds import write_kind_sheets

__all__ = ["FORMULA_STARTS", "MAX_CELL", "render_xlsx"]


def render_xlsx(data: PackData, path: Path) -> None:
    """Write the workbook for ``data`` (the gathered pack) to ``path``."""
    wb = Workbook(write_only=True)
    sources = {s["id"]: s["name"] for s in data.sources}

    summary = _Sheet(wb, "summary", [("item", 34, TEXT), ("value", 80, TEXT)])
    eng, ev = data.engagement, data.evaluation
    summary.write(
        [
            ["organisation", data.organisation],
            ["engagement", eng["name"]],
            ["audit period", f"{eng['period_start']} to {eng['period_end']}"],
            ["as of (UTC)", data.as_of],
            ["sources in scope", ", ".join(sources.get(i, str(i)) for i in eng["source_ids"])],
            ["sub-requirements in scope", ", ".join(eng["requirement_refs"])],
            [
                "evaluation",
                f"#{ev['id']} as of {ev['as_of']}, policy v{ev['policy_version']}" if ev else "none at or before the as-of time",
            ],
            ["credentials", data.summary["credentials"]],
            ["identities", data.summary["identities"]],
            *[[f"requirements {k}", v] for k, v in data.summary["requirements"].items()],
            *[[f"findings {k}", v] for k, v in data.summary["findings"].items()],
            ["exceptions in force", data.summary["exceptions_in_force"]],
            ["sample", f"{len(data.sample['items'])} of {data.sample['population']} credentials, seed {data.sample['seed']}"],
            ["audit events in extract", data.audit_extract["count"]],
        ]
    )

    _Sheet(
        wb,
        "sub-requirements",
        [
            ("ref", 10, TEXT),
            ("clause", 8, TEXT),
            ("title", 40, TEXT),
            ("status", 14, TEXT),
            ("population", 12, INT),
            ("failed", 10, INT),
            ("excepted", 10, INT),
            ("not assessed", 12, INT),
            ("failed in scope", 14, INT),
            ("rules", 40, TEXT),
            ("controls", 20, TEXT),
            ("statement", 80, TEXT),
            ("proven by", 10, TEXT),
            ("rules prove", 60, TEXT),
            ("manual evidence for", 60, TEXT),
            ("manual evidence status", 16, TEXT),
        ],
    ).write(
        [
            r["ref"],
            r["clause"],
            r["title"],
            r["status"],
            r["population"],
            r["failed"],
            r["excepted"],
            r["not_assessed"],
            r["in_scope"]["failed"],
            ", ".join(r["rule_ids"]),
            ", ".join(r["controls"]),
            r["statement"],
            r["coverage"],
            r["rules_cover"],
            r["manual_evidence_for"],
            r["manual_status"],
        ]
        for r in data.requirements
    )

    _Sheet(
        wb,
        "findings",
        [
            ("finding id", 10, INT),
            ("rule", 30, TEXT),
            ("status", 12, TEXT),
            ("severity", 10, TEXT),
            ("subject type", 12, TEXT),
            ("source", 20, TEXT),
            ("credential id", 12, INT),
            ("identity id", 12, INT),
            ("subject", 40, TEXT),
            ("reason", 60, TEXT),
            ("exception", 12, TEXT),
        ],
    ).write(
        [
            f["id"],
            f["rule_id"],
            f["status"],
            f["severity"],
            f["subject_type"],
            f["source"],
            f["credential_id"],
            f["identity_id"],
            f["subject"],
            f["reason"],
            f["exception_ref"],
        ]
        for f in data.findings
    )

    _Sheet(
        wb,
        "credential inventory",
        [
            ("credential id", 12, INT),
            ("source", 20, TEXT),
            ("scope", 30, TEXT),
            ("type", 16, TEXT),
            ("name", 36, TEXT),
            ("external id", 40, TEXT),
            ("identity", 24, TEXT),
            ("enabled", 8, BOOL),
            ("created", 17, DATETIME),
            ("last rotated", 17, DATETIME),
            ("last used", 17, DATETIME),
            ("last used as of (report generated)", 17, DATETIME),
            ("expires", 17, DATETIME),
            ("rotation enabled", 10, BOOL),
            ("age (days)", 10, INT),
            ("owner", 28, TEXT),
            ("tags", 50, TEXT),
        ],
    ).write(
        [
            c["id"],
            sources.get(c["source_id"], ""),
            c["scope"],
            c["credential_type"],
            c["name"],
            c["external_id"],
            c["identity"],
            c["enabled"],
            c["created_at"],
            c["last_rotated_at"],
            c["last_used_at"],
            c["last_used_as_of"],
            c["expires_at"],
            c["rotation_enabled"],
            c["age_days"],
            c["owner"],
            c["tags"],
        ]
        for c in data.credentials
    )
    write_kind_sheets(wb, data, sources)

    _Sheet(
        wb,
        "identities",
        [
            ("identity id", 12, INT),
            ("source", 20, TEXT),
            ("name", 30, TEXT),
            ("kind", 10, TEXT),
            ("created", 17, DATETIME),
            ("privileged", 10, BOOL),
            ("MFA", 8, BOOL),
            ("owner", 28, TEXT),
            ("groups", 30, TEXT),
            ("tags", 50, TEXT),
            ("external id", 50, TEXT),
        ],
    ).write(
        [
            i["id"],
            sources.get(i["source_id"], ""),
            i["name"],
            i["kind"],
            i["created_at"],
            i["privileged"],
            i["mfa_active"],
            i["owner"],
            ", ".join(i["groups"]),
            i["tags"],
            i["external_id"],
        ]
        for i in data.identities
    )

    _Sheet(
        wb,
        "exceptions",
        [
            ("ref", 12, TEXT),
            ("title", 36, TEXT),
            ("state as of", 12, TEXT),
            ("in force", 8, BOOL),
            ("risk", 10, TEXT),
            ("rules", 30, TEXT),
            ("scope", 40, TEXT),
            ("owner", 16, TEXT),
            ("requester", 16, TEXT),
            ("expires on", 12, DATE),
            ("created", 17, DATETIME),
            ("decided", 17, DATETIME),
            ("ended", 17, DATETIME),
            ("decisions", 50, TEXT),
            ("justification", 60, TEXT),
            ("compensating controls", 60, TEXT),
        ],
    ).write(
        [
            e["ref"],
            e["title"],
            e["state"],
            e["in_force"],
            e["risk"],
            ", ".join(e["rule_ids"]),
            e["scope"],
            e["owner"],
            e["requester"],
            e["expires_on"],
            e["created_at"],
            e["decided_at"],
            e["ended_at"],
            "; ".join(f"{d['decided_at']} {d['approver']} {d['decision']}: {d['comment']}" for d in e["decisions"]),
            e["justification"],
            e["compensating_controls"],
        ]
        for e in data.exceptions
    )

    _Sheet(
        wb,
        "reviews and decisions",
        [
            ("campaign id", 11, INT),
            ("campaign", 30, TEXT),
            ("campaign state", 14, TEXT),
            ("signed off", 17, DATETIME),
            ("signed off by", 16, TEXT),
            ("item id", 10, INT),
            ("credential id", 12, INT),
            ("subject", 36, TEXT),
            ("reviewer", 16, TEXT),
            ("decision", 10, TEXT),
            ("justification", 50, TEXT),
            ("decided", 17, DATETIME),
            ("decided by", 16, TEXT),
            ("facts", 50, TEXT),
        ],
    ).write(
        [
            c["id"],
            c["name"],
            c["state"],
            c.get("signed_off_at"),
            c.get("signed_off_by"),
            i["id"],
            i.get("credential_id"),
            i.get("subject"),
            i.get("reviewer"),
            i.get("decision"),
            i.get("justification"),
            i.get("decided_at"),
            i.get("decided_by"),
            i.get("facts"),
        ]
        for c in data.campaigns
        for i in c.get("items", [])
    )

    _Sheet(
        wb,
        "remediation",
        [
            ("campaign id", 11, INT),
            ("remediation id", 13, INT),
            ("item id", 10, INT),
            ("credential id", 12, INT),
            ("action", 10, TEXT),
            ("owner", 16, TEXT),
            ("due", 12, DATE),
            ("state", 12, TEXT),
            ("verified", 17, DATETIME),
            ("verified by run", 14, INT),
            ("events", 70, TEXT),
        ],
    ).write(
        [
            c["id"],
            r["id"],
            r.get("item_id"),
            r.get("credential_id"),
            r.get("action"),
            r.get("owner"),
            r.get("due_date"),
            r.get("state"),
            r.get("verified_at"),
            r.get("verified_by_run_id"),
            "; ".join(
                f"{e.get('at')} {e.get('state')}{' run ' + str(e['run_id']) if e.get('run_id') else ''} {e.get('note') or ''}".strip()
                for e in r.get("events", [])
            ),
        ]
        for c in data.campaigns
        for r in c.get("remediation", [])
    )

    _Sheet(
        wb,
        "collection runs",
        [
            ("run id", 8, INT),
            ("trigger", 10, TEXT),
            ("run status", 12, TEXT),
            ("created", 17, DATETIME),
            ("finished", 17, DATETIME),
            ("source", 20, TEXT),
            ("scope", 40, TEXT),
            ("unit status", 12, TEXT),
            ("attempts", 9, INT),
            ("credentials", 11, INT),
            ("errors", 70, TEXT),
        ],
    ).write(
        [
            r["id"],
            r["trigger"],
            r["status"],
            r["created_at"],
            r["finished_at"],
            u["source"],
            u["scope"],
            u["status"],
            u["attempts"],
            u["credentials"],
            " | ".join(u["errors"]),
        ]
        for r in data.collection_runs
        for u in r["units"]
    )

    _Sheet(
        wb,
        "sample",
        [
            ("credential id", 12, INT),
            ("name", 30, TEXT),
            ("type", 16, TEXT),
            ("identity", 20, TEXT),
            ("owner", 24, TEXT),
            ("first seen", 17, DATETIME),
            ("created", 17, DATETIME),
            ("last rotated", 17, DATETIME),
            ("rotations", 9, INT),
            ("revoked", 17, DATETIME),
            ("enabled", 8, BOOL),
            ("lifecycle", 60, TEXT),
            ("findings", 50, TEXT),
            ("review decisions", 50, TEXT),
        ],
    ).write(
        [
            s["credential_id"],
            s["name"],
            s["credential_type"],
            s["identity"],
            s["owner"],
            s["first_seen_at"],
            s["created_at"],
            s["last_rotated_at"],
            s["rotations"],
            s["revoked_at"],
            s["enabled"],
            "; ".join(f"{e['observed_at']} {e['kind']}" for e in s["events"]),
            "; ".join(f"{f['rule_id']} ({f['status']})" for f in s["findings"]),
            "; ".join(
                f"{d.get('decided_at')} {d.get('decision')} by {d.get('decided_by')}"
                + (f", remediation {d['remediation']['state']}" if d.get("remediation") else "")
                for d in s["review_decisions"]
            ),
        ]
        for s in data.sample["items"]
    )

    _Sheet(
        wb,
        "audit extract",
        [
            ("seq", 8, INT),
            ("occurred", 17, DATETIME),
            ("actor", 18, TEXT),
            ("event", 26, TEXT),
            ("target type", 22, TEXT),
            ("target id", 10, TEXT),
            ("target", 30, TEXT),
            ("changes", 60, TEXT),
            ("message", 40, TEXT),
            ("hash", 20, TEXT),
        ],
    ).write(
        [
            e["seq"],
            e["occurred_at"],
            e["actor"],
            e["event_type"],
            e["target_type"],
            e["target_id"],
            e["target"],
            e["changes"],
            e["message"],
            e["hash"],
        ]
        for e in data.audit_extract["events"]
    )
    wb.save(path)
