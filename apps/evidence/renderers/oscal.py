"""The same findings as NIST OSCAL 1.1 Assessment Results (JSON), for GRC platforms.

One result covers the audit period up to the as-of time. Each automated rule is an
observation (method TEST) whose subjects are the credentials and identities that did not
pass; each sub-requirement tested by rules is a finding whose target is the objective
``keytrail-<ref>`` with state satisfied / not-satisfied and the related observations.
Sub-requirements that rest on manual evidence only are findings too: satisfied when evidenced,
not satisfied when the evidence is missing or stale (the same words in the remarks).

UUIDs are version-5 UUIDs derived from the engagement, the as-of time and the object, so two
builds as of the same time produce the same document. Validated in the tests with
compliance-trestle's OSCAL 1.1.3 models (docs/adr/0002-oscal-validation.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from apps.controls.evidence_status import EVIDENCE_WORDS, EVIDENCED
from apps.evidence.packdata import PackData, findings_by_rule

OSCAL_VERSION = "1.1.3"
NAMESPACE = uuid.UUID("6f1d3c1e-6a57-4c1b-9a8e-6b6579747261")  # keytrail's own namespace for uuid5
PROP_NS = "https://keytrail.example/ns/oscal"


def _uuid(*parts) -> str:
    return str(uuid.uuid5(NAMESPACE, "|".join(str(p) for p in parts)))


def _token(ref: str) -> str:
    # OSCAL tokens start with a letter; catalog refs start with a digit (9.2.4.01).
    return f"keytrail-{ref}"


def _subject(key: tuple[Any, ...], f: Any) -> dict[str, Any]:
    subject_id = f["credential_id"] or f["identity_id"] or f["source_id"]
    return {
        "subject-uuid": _uuid(*key, f["subject_type"], subject_id),
        "type": "inventory-item",
        "title": f"{f['subject_type']} {f['subject']}"[:500],
        "props": [{"name": "status", "ns": PROP_NS, "value": f["status"]}],
        "remarks": f["reason"] or f["status"],
    }


def oscal_document(data: PackData, deferred: dict[str, Iterable[Any]] | None = None) -> dict:
    """The Assessment Results document. With ``deferred`` (a dict to fill), each observation's
    ``subjects`` is a placeholder string instead, and ``deferred`` maps it to the findings whose
    subjects go there: :func:`render_oscal` writes them one by one (the same bytes; streamed
    findings are read from the database rule by rule as they are written)."""
    eng = data.engagement
    key = (eng["id"], data.as_of)
    start = f"{eng['period_start']}T00:00:00Z"
    if start > data.as_of:
        start = data.as_of
    collected = data.evaluation["as_of"] if data.evaluation else data.as_of
    failing = findings_by_rule(data.findings)  # a streamed rule's findings are read when written
    observations, obs_uuid = [], {}
    for rule in data.rules:
        obs_uuid[rule["rule_id"]] = _uuid(*key, "observation", rule["rule_id"])
        count, rule_findings = failing(rule["rule_id"])
        subjects: list[dict[str, Any]] | str = []
        if deferred is not None and count:
            subjects = f"\x00keytrail-oscal-subjects-{len(deferred)}"
            deferred[subjects] = rule_findings
        elif count:
            subjects = [_subject(key, f) for f in rule_findings]
        obs: dict[str, Any] = {
            "uuid": obs_uuid[rule["rule_id"]],
            "title": rule["rule_id"],
            "description": (
                f"Automated rule {rule['rule_id']} ({rule['severity']}): {rule['population']} tested, {rule['passed']} passed, "
                f"{rule['failed']} failed, {rule['excepted']} excepted, {rule['not_assessed']} not assessed."
            ),
            "props": [
                {"name": "population", "ns": PROP_NS, "value": str(rule["population"])},
                {"name": "failed", "ns": PROP_NS, "value": str(rule["failed"])},
            ],
            "methods": ["TEST"],
            "types": ["finding"] if rule["failed"] else ["control-objective"],
            "collected": collected,
        }
        if subjects:
            obs["subjects"] = subjects
        observations.append(obs)
    findings: list[dict[str, Any]] = []
    manual: list[str] = []
    for r in data.requirements:
        satisfied = r["status"] in ("pass", EVIDENCED)
        status: dict[str, str] = {
            "state": "satisfied" if satisfied else "not-satisfied",
            "reason": "pass" if satisfied else "fail" if r["status"] == "fail" else "other",
        }
        if not r["rule_ids"]:
            # No rule tests it: the words the PDF, the spreadsheet and the pages use.
            manual.append(f"{r['ref']} {EVIDENCE_WORDS.get(r['status'], r['status'])}")
            status["remarks"] = f"{EVIDENCE_WORDS.get(r['status'], r['status'])} (manual evidence of its controls, see pack.pdf)"
        elif r["status"] in ("excepted", "not_assessed"):
            status["remarks"] = "excepted by approved exceptions" if r["status"] == "excepted" else "not assessed (no current coverage)"
        if r["manual_status"]:
            # Rules prove only part of it (ADR 0016): the rest rests on manual evidence.
            manual.append(f"{r['ref']} (part) {EVIDENCE_WORDS.get(r['manual_status'], r['manual_status'])}")
        finding: dict[str, Any] = {
            "uuid": _uuid(*key, "finding", r["ref"]),
            "title": f"{r['ref']} {r['title']}",
            "description": r["statement"],
            "props": [{"name": "coverage", "ns": PROP_NS, "value": r["coverage"]}],
            "target": {"type": "objective-id", "target-id": _token(r["ref"]), "status": status},
        }
        coverage_words = []
        if r["rules_cover"]:
            coverage_words.append(f"Proven by rules: {r['rules_cover']}")
        if r["manual_evidence_for"]:
            manual_words = EVIDENCE_WORDS.get(r["manual_status"], "") if r["rule_ids"] else EVIDENCE_WORDS.get(r["status"], "")
            coverage_words.append(f"Manual evidence for: {r['manual_evidence_for']}" + (f" ({manual_words})" if manual_words else ""))
        if coverage_words:
            finding["remarks"] = " ".join(coverage_words)
        related = [{"observation-uuid": obs_uuid[rid]} for rid in r["rule_ids"] if rid in obs_uuid]
        if related:
            finding["related-observations"] = related
        findings.append(finding)
    result: dict[str, Any] = {
        "uuid": _uuid(*key, "result"),
        "title": f"{eng['name']} as of {data.as_of}",
        "description": f"keytrail evaluation of ISO/IEC 27017 9.2.4 and 9.3.1 for {data.organisation}.",
        "start": start,
        "end": data.as_of,
        "reviewed-controls": {
            "control-selections": [{"include-controls": [{"control-id": "iso27017-9.2.4"}, {"control-id": "iso27017-9.3.1"}]}]
        },
    }
    if observations:
        result["observations"] = observations
    if findings:
        result["findings"] = findings
    if manual:
        result["remarks"] = "Resting on manual evidence (see pack.pdf): " + ", ".join(manual)
    return {
        "assessment-results": {
            "uuid": _uuid(*key, "assessment-results"),
            "metadata": {
                "title": f"{data.organisation}: {eng['name']}",
                "last-modified": data.as_of,
                "version": data.as_of,
                "oscal-version": OSCAL_VERSION,
            },
            "import-ap": {
                "href": f"urn:keytrail:assessment-plan:engagement-{eng['id']}",
                "remarks": "The engagement's scope and period; keytrail does not publish a separate assessment plan.",
            },
            "results": [result],
        }
    }


OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2


def render_oscal(data: PackData, path: Path) -> None:
    """Write the document as ``orjson.dumps(oscal_document(data), OPTIONS)`` would, without holding
    every subject: the document is dumped with a placeholder for each observation's subjects, and
    the subjects are written in their place one by one, indented as orjson indents them."""
    deferred: dict[str, Iterable[Any]] = {}
    raw = orjson.dumps(oscal_document(data, deferred), option=OPTIONS)
    key = (data.engagement["id"], data.as_of)
    places = sorted((raw.index(orjson.dumps(marker)), marker) for marker in deferred)
    with open(path, "wb") as fh:
        done = 0
        for at, marker in places:
            fh.write(raw[done:at])
            line = raw.rfind(b"\n", 0, at) + 1
            indent = len(raw[line:at]) - len(raw[line:at].lstrip(b" "))
            pad = b"\n" + b" " * (indent + 2)
            fh.write(b"[")
            for n, f in enumerate(deferred[marker]):
                fh.write((b"," if n else b"") + pad + orjson.dumps(_subject(key, f), option=OPTIONS).replace(b"\n", pad))
            fh.write(b"\n" + b" " * indent + b"]")
            done = at + len(orjson.dumps(marker))
        fh.write(raw[done:])
