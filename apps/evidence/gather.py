"""Gathering an engagement's evidence as of a point in time into one frozen, JSON-ready dict.

Every renderer (PDF, XLSX, JSON, OSCAL) takes this dict and nothing else, so the four files
always say the same thing. "As of T" means:

- inventory: the credential and identity versions valid at T (``valid_from <= T < valid_to``),
  which is what the last snapshot at or before T recorded for each scope;
- posture: the last succeeded evaluation whose ``as_of`` is at or before T, its rule results,
  requirement statuses and findings (narrowed to the engagement's sources);
- exceptions: their state rebuilt from their timestamps (created, submitted, decided, ended)
  and only the decisions taken by T;
- collection runs, audit events, manual evidence: those that existed at T.

The queries are set-based (a fixed number per pack, none per row) and the large populations
are streamed (``values_list`` through a server-side cursor). Values are plain JSON types:
datetimes are ISO 8601 UTC strings, lists have a stable order (by id), so gathering twice as
of the same T gives equal dicts and the same pack.json bytes.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter, defaultdict
from datetime import datetime, timezone as dt_timezone
from typing import Any

from django.conf import settings
from django.db.models import Count, Q

from apps.audit.models import AuditEvent
from apps.catalog.models import Requirement
from apps.controls.models import Control, ControlEvidence
from apps.core.models import Organisation
from apps.core.rows import fast_rows
from apps.evaluation.models import Evaluation, Finding, RequirementStatus, RuleResult
from apps.exceptions_register.models import ExceptionDecision, ExceptionRequest
from apps.inventory.models import CollectionRun, CollectionUnit, Credential, CredentialEvent, CredentialVersion, IdentityVersion, Snapshot, Source
from apps.inventory.services.apply import owner_from_tags
from apps.reviews.report import campaigns_for_pack, decisions_for_credentials

SCHEMA_ID = "https://keytrail.example/schema/evidence-pack/1"
SCHEMA_VERSION = "1"
# Key-age buckets (days since the last rotation, or creation when never rotated).
AGE_BUCKETS = [(0, 30, "0-30"), (31, 90, "31-90"), (91, 180, "91-180"), (181, 365, "181-365"), (366, None, "over 365")]
POSTURE_POINTS = 24  # at most this many evaluations drawn in the posture chart


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt_timezone.utc).isoformat().replace("+00:00", "Z")


def _iso_text(value: str | None) -> str | None:
    """An ISO string from version data, normalised to UTC with a Z."""
    if not value:
        return None
    try:
        return iso(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except (TypeError, ValueError):
        return str(value)


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def default_seed(*, engagement_id: int, as_of: datetime) -> int:
    """The sample seed when the auditor names none: fixed by engagement and as-of time, so a
    rebuild as of the same time draws the same sample."""
    digest = hashlib.sha256(f"{engagement_id}|{iso(as_of)}".encode()).hexdigest()
    return int(digest[:12], 16)


def _review_campaigns(as_of: datetime, source_ids: list[int] | None) -> list[dict]:
    """Access-review campaigns as they stood at ``as_of`` (shape: docs/reviews.md, schema/pack.schema.json)."""
    return campaigns_for_pack(as_of=as_of, source_ids=source_ids)


def _review_decisions(credential_ids: list[int], as_of: datetime) -> dict[int, list[dict]]:
    """Review decisions and remediation per sampled credential, as of ``as_of``."""
    return decisions_for_credentials(credential_ids, as_of=as_of)


def gather(*, engagement, as_of: datetime, sample_size: int, sample_seed: int, progress=None) -> dict[str, Any]:
    """The pack's data as of ``as_of``. ``progress(percent, stage)`` is called between steps."""
    step = progress or (lambda percent, stage: None)
    source_qs = engagement.sources.order_by("id")
    sources = list(source_qs) or list(Source.objects.order_by("id"))
    source_ids = [s.id for s in sources]
    requirements = list(engagement.requirements.select_related("clause").order_by("position", "ref")) or list(
        Requirement.objects.filter(retired_in__isnull=True).select_related("clause").order_by("position", "ref"))
    organisation = Organisation.objects.order_by("id").values_list("name", flat=True).first() or settings.KEYTRAIL_ORGANISATION_NAME

    step(5, "inventory as of")
    identities = _identities(source_ids, as_of)
    credentials = _credentials(source_ids, as_of, identities)
    step(20, "posture")
    evaluation = Evaluation.objects.filter(state=Evaluation.State.SUCCEEDED, as_of__lte=as_of).select_related("policy_version").order_by("-as_of", "-id").first()
    exceptions = _exceptions(as_of)
    exception_refs = {e["id"]: e["ref"] for e in exceptions}
    findings = _findings(evaluation, source_ids, exception_refs)
    rules = _rules(evaluation)
    controls = _controls(requirements, as_of)
    reqs = _requirements(requirements, evaluation, findings, controls)
    step(35, "coverage and history")
    coverage = _coverage(sources, as_of)
    runs = _runs(source_ids, engagement, as_of)
    audit = _audit(engagement, as_of)
    campaigns = _review_campaigns(as_of, source_ids)
    step(45, "sample")
    sample = _sample(credentials, findings, sample_size, sample_seed, as_of)
    charts = {"key_age": _key_age(credentials), "posture": _posture(engagement, requirements, as_of)}
    summary = _summary(reqs, credentials, identities, findings, exceptions, coverage)
    return {
        "$schema": SCHEMA_ID,
        "schema_version": SCHEMA_VERSION,
        "organisation": organisation,
        "engagement": {
            "id": engagement.id,
            "name": engagement.name,
            "period_start": engagement.period_start.isoformat(),
            "period_end": engagement.period_end.isoformat(),
            "source_ids": source_ids,
            "requirement_refs": [r.ref for r in requirements],
            "all_sources": not engagement.sources.exists(),
        },
        "as_of": iso(as_of),
        "evaluation": None if evaluation is None else {
            "id": evaluation.id, "as_of": iso(evaluation.as_of), "finished_at": iso(evaluation.finished_at),
            "policy_version": evaluation.policy_version.version, "policy": evaluation.policy_version.data,
            "counts": evaluation.counts,
        },
        "summary": summary,
        "requirements": reqs,
        "controls": controls,
        "rules": rules,
        "findings": findings,
        "exceptions": exceptions,
        "campaigns": campaigns,
        "sources": coverage,
        "collection_runs": runs,
        "credentials": credentials,
        "identities": list(identities.values()),
        "sample": sample,
        "audit_extract": audit,
        "charts": charts,
    }


# --- inventory as of -------------------------------------------------------------------------

def _valid_at(as_of: datetime) -> Q:
    return Q(valid_from__lte=as_of) & (Q(valid_to__isnull=True) | Q(valid_to__gt=as_of))


def _identities(source_ids: list[int], as_of: datetime) -> dict[int, dict]:
    qs = IdentityVersion.objects.filter(_valid_at(as_of), identity__source_id__in=source_ids).order_by("identity_id")
    fields = ("identity_id", "identity__source_id", "identity__external_id", "data", "valid_from")
    out: dict[int, dict] = {}
    for identity_id, source_id, external_id, data, valid_from in fast_rows(qs, fields):
        tags = data.get("tags") or {}
        out[identity_id] = {
            "id": identity_id, "source_id": source_id, "external_id": external_id, "name": data.get("name", ""),
            "kind": data.get("kind", ""), "created_at": _iso_text(data.get("created_at")), "privileged": data.get("privileged"),
            "mfa_active": data.get("mfa_active"), "owner": owner_from_tags(tags), "tags": tags,
            "groups": data.get("groups") or [], "policies": data.get("policies") or [], "version_from": iso(valid_from),
        }
    return out


def _credentials(source_ids: list[int], as_of: datetime, identities: dict[int, dict]) -> list[dict]:
    qs = CredentialVersion.objects.filter(_valid_at(as_of), credential__source_id__in=source_ids).order_by("credential_id")
    fields = ("credential_id", "credential__source_id", "credential__scope", "credential__credential_type", "credential__external_id",
              "credential__identity_id", "data", "valid_from")
    by_ext = {(i["source_id"], i["external_id"]): i for i in identities.values()}
    out = []
    for cid, source_id, scope, ctype, external_id, identity_id, data, valid_from in fast_rows(qs, fields):
        tags = data.get("tags") or {}
        identity = by_ext.get((source_id, data.get("identity_external_id"))) if data.get("identity_external_id") else None
        if identity is None and identity_id in identities:
            identity = identities[identity_id]
        rotated = _iso_text(data.get("last_rotated_at"))
        created = _iso_text(data.get("created_at"))
        basis = _parse(rotated or created)
        out.append({
            "id": cid, "source_id": source_id, "scope": scope, "credential_type": ctype, "external_id": external_id,
            "name": data.get("name", ""), "identity_id": identity["id"] if identity else None,
            "identity": identity["name"] if identity else None, "enabled": data.get("enabled"),
            "created_at": created, "last_rotated_at": rotated, "last_used_at": _iso_text(data.get("last_used_at")),
            "expires_at": _iso_text(data.get("expires_at")), "rotation_enabled": data.get("rotation_enabled"),
            "rotation_interval_days": data.get("rotation_interval_days"),
            "owner": owner_from_tags(tags) or (identity["owner"] if identity else ""), "tags": tags,
            "age_days": (as_of - basis).days if basis else None, "version_from": iso(valid_from),
        })
    return out


# --- posture -----------------------------------------------------------------------------------

def _findings(evaluation, source_ids: list[int], exception_refs: dict[int, str]) -> list[dict]:
    if evaluation is None:
        return []
    source_names = dict(Source.objects.filter(id__in=source_ids).values_list("id", "name"))
    qs = Finding.objects.filter(evaluation=evaluation, source_id__in=source_ids).order_by("rule_id", "id")
    fields = ("id", "rule_id", "status", "severity", "subject_type", "source_id", "credential_id", "identity_id", "subject_label",
              "reason", "exception_id")
    return [{
        "id": fid, "rule_id": rule_id, "status": status, "severity": severity, "subject_type": subject_type, "source_id": source_id,
        "source": source_names.get(source_id, ""), "credential_id": credential_id, "identity_id": identity_id, "subject": label,
        "reason": reason, "exception_ref": exception_refs.get(exception_id) if exception_id else None,
    } for fid, rule_id, status, severity, subject_type, source_id, credential_id, identity_id, label, reason, exception_id in fast_rows(qs, fields)]


def _rules(evaluation) -> list[dict]:
    if evaluation is None:
        return []
    return [{"rule_id": r.rule_id, "severity": r.severity, "status": r.status, "population": r.population, "passed": r.passed,
             "failed": r.failed, "excepted": r.excepted, "not_assessed": r.not_assessed, "covered": r.covered, "note": r.note}
            for r in RuleResult.objects.filter(evaluation=evaluation).order_by("rule_id")]


def _controls(requirements, as_of: datetime) -> list[dict]:
    refs = {r.id: r.ref for r in requirements}
    controls = (Control.objects.filter(created_at__lte=as_of, requirements__in=list(refs)).distinct().select_related("owner")
                .prefetch_related("requirements").order_by("ref"))
    evidence = defaultdict(list)
    for ev in (ControlEvidence.objects.filter(control__in=controls, uploaded_at__lte=as_of).select_related("uploaded_by")
               .order_by("control_id", "uploaded_at", "id")):
        evidence[ev.control_id].append({
            "id": ev.id, "name": ev.original_name, "description": ev.description, "sha256": ev.sha256, "size": ev.size,
            "content_type": ev.content_type, "effective_date": ev.effective_date.isoformat(), "uploaded_at": iso(ev.uploaded_at),
            "uploaded_by": ev.uploaded_by.get_username(),
        })
    return [{
        "ref": c.ref, "title": c.title, "owner": c.owner.get_username(), "narrative": c.narrative,
        "implementation_status": c.implementation_status, "test_frequency": c.test_frequency, "rule_ids": list(c.rule_ids or []),
        "requirements": sorted(r.ref for r in c.requirements.all()), "evidence": evidence.get(c.id, []),
    } for c in controls]


def _requirements(requirements, evaluation, findings: list[dict], controls: list[dict]) -> list[dict]:
    statuses = {}
    if evaluation is not None:
        statuses = {s.requirement_id: s for s in RequirementStatus.objects.filter(evaluation=evaluation)}
    by_rule = defaultdict(Counter)
    for f in findings:
        by_rule[f["rule_id"]][f["status"]] += 1
    out = []
    for r in requirements:
        st = statuses.get(r.id)
        in_scope = Counter()
        for rule_id in r.rule_ids or []:
            in_scope.update(by_rule.get(rule_id, {}))
        if st is not None:
            status = st.status
        else:
            status = "not_assessed" if r.rule_ids else "manual"
        out.append({
            "ref": r.ref, "clause": r.clause.ref, "title": r.title, "statement": r.statement, "automatable": r.automatable,
            "rule_ids": list(r.rule_ids or []), "status": status,
            "population": st.population if st else 0, "failed": st.failed if st else 0,
            "excepted": st.excepted if st else 0, "not_assessed": st.not_assessed if st else 0,
            "in_scope": {"failed": in_scope.get("fail", 0), "excepted": in_scope.get("excepted", 0),
                         "not_assessed": in_scope.get("not_assessed", 0)},
            "controls": [c["ref"] for c in controls if r.ref in c["requirements"]],
        })
    return out


def _exception_state(e: ExceptionRequest, as_of: datetime) -> str:
    """The state an exception was in at ``as_of``, from its timestamps."""
    S = ExceptionRequest.State
    if e.ended_at and e.ended_at <= as_of:
        return e.state
    if e.decided_at and e.decided_at <= as_of:
        if e.state == S.REJECTED:
            return S.REJECTED
        return S.EXPIRED if e.expires_on < as_of.date() else S.APPROVED
    if e.submitted_at and e.submitted_at <= as_of:
        return S.PENDING
    return S.DRAFT


def _exceptions(as_of: datetime) -> list[dict]:
    rows = list(ExceptionRequest.objects.filter(created_at__lte=as_of).select_related("owner", "requester", "renewal_of").order_by("id"))
    decisions = defaultdict(list)
    for d in ExceptionDecision.objects.filter(exception__in=rows, decided_at__lte=as_of).select_related("approver").order_by("exception_id", "decided_at", "id"):
        decisions[d.exception_id].append({"approver": d.approver.get_username(), "decision": d.decision, "comment": d.comment,
                                          "decided_at": iso(d.decided_at)})
    out = []
    for e in rows:
        state = _exception_state(e, as_of)
        out.append({
            "id": e.id, "ref": e.ref, "title": e.title, "state": state, "in_force": state == ExceptionRequest.State.APPROVED,
            "risk": e.risk, "rule_ids": list(e.rule_ids), "scope": e.scope, "scope_is_broad": e.scope_is_broad,
            "justification": e.justification, "compensating_controls": e.compensating_controls, "ticket_ref": e.ticket_ref,
            "owner": e.owner.get_username(), "requester": e.requester.get_username(), "expires_on": e.expires_on.isoformat(),
            "renewal_of": e.renewal_of.ref if e.renewal_of_id else None, "created_at": iso(e.created_at),
            "submitted_at": iso(e.submitted_at) if e.submitted_at and e.submitted_at <= as_of else None,
            "decided_at": iso(e.decided_at) if e.decided_at and e.decided_at <= as_of else None,
            "ended_at": iso(e.ended_at) if e.ended_at and e.ended_at <= as_of else None,
            "decisions": decisions.get(e.id, []),
        })
    return out


# --- coverage and history --------------------------------------------------------------------------

def _coverage(sources, as_of: datetime) -> list[dict]:
    source_ids = [s.id for s in sources]
    snapshots: dict[tuple[int, str], Snapshot] = {}
    for snap in Snapshot.objects.filter(source_id__in=source_ids, taken_at__lte=as_of).order_by("source_id", "scope", "taken_at", "id"):
        snapshots[(snap.source_id, snap.scope)] = snap  # the last one wins
    last_unit: dict[tuple[int, str], CollectionUnit] = {}
    for unit in (CollectionUnit.objects.filter(source_id__in=source_ids, finished_at__lte=as_of, status__in=["succeeded", "failed"])
                 .order_by("source_id", "scope", "finished_at", "id")):
        last_unit[(unit.source_id, unit.scope)] = unit
    out = []
    for s in sources:
        scopes = sorted({scope for (sid, scope) in [*snapshots, *last_unit] if sid == s.id})
        rows = []
        for scope in scopes:
            snap, unit = snapshots.get((s.id, scope)), last_unit.get((s.id, scope))
            rows.append({
                "scope": scope, "last_snapshot_at": iso(snap.taken_at) if snap else None,
                "snapshot_sha256": snap.content_sha256 if snap else None,
                "credentials": snap.credential_count if snap else 0, "identities": snap.identity_count if snap else 0,
                "last_status": unit.status if unit else "never", "last_finished_at": iso(unit.finished_at) if unit else None,
                "errors": [{"code": str(e.get("code", "")), "message": str(e.get("message", ""))[:500]} for e in (unit.errors if unit else [])][-5:],
            })
        out.append({"id": s.id, "name": s.name, "kind": s.kind, "location": s.location, "enabled": s.enabled, "scopes": rows})
    return out


def _runs(source_ids: list[int], engagement, as_of: datetime) -> list[dict]:
    start = datetime.combine(engagement.period_start, datetime.min.time(), tzinfo=dt_timezone.utc)
    units = (CollectionUnit.objects.filter(source_id__in=source_ids, run__created_at__gte=start, run__created_at__lte=as_of)
             .select_related("run", "source").order_by("run_id", "source_id", "scope"))
    runs: dict[int, dict] = {}
    for u in units:
        run = u.run
        finished = run.finished_at if run.finished_at and run.finished_at <= as_of else None
        entry = runs.setdefault(run.id, {"id": run.id, "trigger": run.trigger, "created_at": iso(run.created_at),
                                         "started_at": iso(run.started_at), "finished_at": iso(finished),
                                         "status": run.status if finished else CollectionRun.Status.RUNNING, "units": []})
        done = u.finished_at is not None and u.finished_at <= as_of
        entry["units"].append({"source": u.source.name, "scope": u.scope, "status": u.status if done else "running",
                               "attempts": u.attempts, "finished_at": iso(u.finished_at) if done else None,
                               "credentials": (u.counts or {}).get("credentials", 0) if done else 0,
                               "errors": [str(e.get("message", ""))[:300] for e in (u.errors or [])][-3:] if done else []})
    return list(runs.values())


def _audit(engagement, as_of: datetime) -> dict:
    start = datetime.combine(engagement.period_start, datetime.min.time(), tzinfo=dt_timezone.utc)
    qs = AuditEvent.objects.filter(occurred_at__gte=start, occurred_at__lte=as_of).order_by("seq")
    fields = ("seq", "occurred_at", "actor_label", "event_type", "target_type", "target_id", "target_repr", "changes", "message", "hash")
    events = [{"seq": seq, "occurred_at": iso(at), "actor": actor, "event_type": et, "target_type": tt, "target_id": tid,
               "target": trepr, "changes": changes, "message": message, "hash": h}
              for seq, at, actor, et, tt, tid, trepr, changes, message, h in fast_rows(qs, fields)]
    types = Counter(e["event_type"] for e in events)
    return {"from": iso(start), "to": iso(as_of), "count": len(events), "by_type": dict(sorted(types.items())),
            "head_hash": events[-1]["hash"] if events else None, "events": events}


# --- sample and charts --------------------------------------------------------------------------

def _sample(credentials: list[dict], findings: list[dict], size: int, seed: int, as_of: datetime) -> dict:
    population = sorted(c["id"] for c in credentials)
    chosen = sorted(random.Random(seed).sample(population, min(size, len(population))))
    by_id = {c["id"]: c for c in credentials}
    versions = defaultdict(list)
    for cid, data, valid_from, valid_to in (CredentialVersion.objects.filter(credential_id__in=chosen, valid_from__lte=as_of)
                                            .order_by("credential_id", "valid_from", "id").values_list("credential_id", "data", "valid_from", "valid_to")):
        versions[cid].append({"valid_from": iso(valid_from), "valid_to": iso(valid_to) if valid_to and valid_to <= as_of else None,
                              "enabled": data.get("enabled"), "last_rotated_at": _iso_text(data.get("last_rotated_at")),
                              "owner": owner_from_tags(data.get("tags") or {})})
    events = defaultdict(list)
    for cid, kind, observed_at, detail in (CredentialEvent.objects.filter(credential_id__in=chosen, observed_at__lte=as_of)
                                            .order_by("credential_id", "observed_at", "id").values_list("credential_id", "kind", "observed_at", "detail")):
        events[cid].append({"kind": kind, "observed_at": iso(observed_at), "detail": detail})
    first_seen = dict(Credential.objects.filter(id__in=chosen).values_list("id", "first_seen_at"))
    chosen_set = set(chosen)
    failing = defaultdict(list)
    for f in findings:
        if f["credential_id"] in chosen_set:
            failing[f["credential_id"]].append({"rule_id": f["rule_id"], "status": f["status"], "reason": f["reason"]})
    decisions = _review_decisions(chosen, as_of)
    items = []
    for cid in chosen:
        c = by_id[cid]
        lifecycle = events.get(cid, [])
        items.append({
            "credential_id": cid, "name": c["name"], "credential_type": c["credential_type"], "source_id": c["source_id"],
            "identity": c["identity"], "owner": c["owner"], "enabled": c["enabled"], "first_seen_at": iso(first_seen.get(cid)),
            "created_at": c["created_at"], "last_rotated_at": c["last_rotated_at"],
            "rotations": sum(1 for e in lifecycle if e["kind"] == "rotated"),
            "revoked_at": next((e["observed_at"] for e in reversed(lifecycle) if e["kind"] in ("deactivated", "disappeared")), None),
            "versions": versions.get(cid, []), "events": lifecycle, "findings": failing.get(cid, []),
            "review_decisions": decisions.get(cid, []),
        })
    return {"size": size, "seed": seed, "population": len(population),
            "method": "Python random.Random(seed).sample over the credential ids present as of the pack's time, sorted ascending",
            "items": items}


def _key_age(credentials: list[dict]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for c in credentials:
        if c["age_days"] is None:
            continue
        row = out.setdefault(c["credential_type"], {label: 0 for _, _, label in AGE_BUCKETS})
        for lo, hi, label in AGE_BUCKETS:
            if c["age_days"] >= lo and (hi is None or c["age_days"] <= hi):
                row[label] += 1
                break
    return dict(sorted(out.items()))


def _posture(engagement, requirements, as_of: datetime) -> list[dict]:
    start = datetime.combine(engagement.period_start, datetime.min.time(), tzinfo=dt_timezone.utc)
    ids = list(Evaluation.objects.filter(state=Evaluation.State.SUCCEEDED, as_of__gte=start, as_of__lte=as_of).order_by("as_of", "id").values_list("id", "as_of"))
    if len(ids) > POSTURE_POINTS:  # evenly spaced, always keeping the last
        step = len(ids) / POSTURE_POINTS
        ids = [ids[int(i * step)] for i in range(POSTURE_POINTS - 1)] + [ids[-1]]
    counts = defaultdict(dict)
    for ev_id, status, n in (RequirementStatus.objects.filter(evaluation_id__in=[i for i, _ in ids], requirement__in=requirements)
                             .exclude(rule_ids=[]).values_list("evaluation_id", "status").annotate(n=Count("id")).order_by()):
        counts[ev_id][status] = n
    return [{"evaluation_id": ev_id, "as_of": iso(at), "counts": dict(sorted(counts.get(ev_id, {}).items()))} for ev_id, at in ids]


def _summary(reqs, credentials, identities, findings, exceptions, coverage) -> dict:
    statuses = Counter(r["status"] for r in reqs)
    scopes = [s for src in coverage for s in src["scopes"]]
    return {
        "requirements": dict(sorted(statuses.items())), "credentials": len(credentials), "identities": len(identities),
        "credentials_by_type": dict(sorted(Counter(c["credential_type"] for c in credentials).items())),
        "findings": dict(sorted(Counter(f["status"] for f in findings).items())),
        "exceptions_in_force": sum(1 for e in exceptions if e["in_force"]),
        "scopes": len(scopes), "scopes_failing": sum(1 for s in scopes if s["last_status"] == "failed"),
    }
