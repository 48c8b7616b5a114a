"""Reads of the posture as it stood at a point in time T (the evidence pack's posture and chart).

The posture as of T is the last succeeded evaluation whose ``as_of`` is at or before T: its
rule results, requirement statuses and findings. Rows are JSON-ready (times ISO 8601 UTC
with a ``Z``); the queries are set-based and the findings are streamed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterator, Mapping
from datetime import datetime
from typing import Any, TypedDict

from django.db.models import Count

from apps.core.isotime import iso_utc
from apps.core.rows import fast_rows, id_set
from apps.evaluation.models import Evaluation, Finding, RequirementStatus, RuleResult

FINDING_CHUNK = 5000  # findings held at a time when streamed (:func:`iter_findings_in_scope`)


class EvaluationAsOf(TypedDict):
    id: int
    as_of: str
    finished_at: str | None
    policy_version: int
    policy: dict[str, Any]
    counts: dict[str, Any]


class RuleResultAsOf(TypedDict):
    rule_id: str
    severity: str
    status: str
    population: int
    passed: int
    failed: int
    excepted: int
    not_assessed: int
    covered: Any
    note: str


class FindingAsOf(TypedDict):
    id: int
    rule_id: str
    status: str
    severity: str
    subject_type: str
    source_id: int | None
    source: str
    credential_id: int | None
    identity_id: int | None
    subject: str
    reason: str
    exception_ref: str | None


class StatusAsOf(TypedDict):
    status: str
    population: int
    failed: int
    excepted: int
    not_assessed: int


class PostureAt(TypedDict):
    evaluation_id: int
    as_of: str
    counts: dict[str, int]  # requirements tested by rules, per status


def evaluation_as_of(*, as_of: datetime) -> EvaluationAsOf | None:
    """The last succeeded evaluation whose ``as_of`` is at or before ``as_of`` (the latest id
    on a tie), with its policy version and counts; None when there is none. One query."""
    evaluation = (
        Evaluation.objects.filter(state=Evaluation.State.SUCCEEDED, as_of__lte=as_of)
        .select_related("policy_version")
        .order_by("-as_of", "-id")
        .first()
    )
    if evaluation is None:
        return None
    return {
        "id": evaluation.id,
        "as_of": iso_utc(evaluation.as_of),
        "finished_at": iso_utc(evaluation.finished_at),
        "policy_version": evaluation.policy_version.version,
        "policy": evaluation.policy_version.data,
        "counts": evaluation.counts,
    }


def rule_results(*, evaluation_id: int) -> list[RuleResultAsOf]:
    """Each rule's result in the evaluation (population and outcome), by rule id. One query."""
    return [
        {
            "rule_id": r.rule_id,
            "severity": r.severity,
            "status": r.status,
            "population": r.population,
            "passed": r.passed,
            "failed": r.failed,
            "excepted": r.excepted,
            "not_assessed": r.not_assessed,
            "covered": r.covered,
            "note": r.note,
        }
        for r in RuleResult.objects.filter(evaluation_id=evaluation_id).order_by("rule_id")
    ]


def findings_in_scope(*, evaluation_id: int, sources: Mapping[int, str], exception_refs: Mapping[int, str]) -> list[FindingAsOf]:
    """Every finding (non-passing subject) of the evaluation about the sources ``sources``
    ({id: name}), by rule then id, each with its source's name and the ref of the exception
    that excepts it (from ``exception_refs``, {id: ref}). One query; :func:`iter_findings_in_scope`
    gives the same rows without holding them."""
    return list(iter_findings_in_scope(evaluation_id=evaluation_id, sources=sources, exception_refs=exception_refs))


def iter_findings_in_scope(
    *,
    evaluation_id: int,
    sources: Mapping[int, str],
    exception_refs: Mapping[int, str],
    rule_ids: Collection[str] | None = None,
    credential_ids: Collection[int] | None = None,
) -> Iterator[FindingAsOf]:
    """:func:`findings_in_scope`'s rows one by one through a server-side cursor (:data:`FINDING_CHUNK` rows held
    at a time whatever the estate's size), narrowed to ``rule_ids`` and ``credential_ids`` when
    given. Same rows, same order (by rule then id). One query."""
    qs = Finding.objects.filter(evaluation_id=evaluation_id, source_id__in=list(sources))
    if rule_ids is not None:
        qs = qs.filter(rule_id__in=list(rule_ids))
    if credential_ids is not None:
        qs = qs.filter(credential_id__in=id_set(list(credential_ids)))
    fields = (
        "id",
        "rule_id",
        "status",
        "severity",
        "subject_type",
        "source_id",
        "credential_id",
        "identity_id",
        "subject_label",
        "reason",
        "exception_id",
    )
    for fid, rule_id, status, severity, subject_type, source_id, credential_id, identity_id, label, reason, exception_id in fast_rows(
        qs.order_by("rule_id", "id"), fields, FINDING_CHUNK, server_side=True
    ):
        yield {
            "id": fid,
            "rule_id": rule_id,
            "status": status,
            "severity": severity,
            "subject_type": subject_type,
            "source_id": source_id,
            "source": sources.get(source_id, ""),
            "credential_id": credential_id,
            "identity_id": identity_id,
            "subject": label,
            "reason": reason,
            "exception_ref": exception_refs.get(exception_id) if exception_id else None,
        }


def finding_counts_in_scope(*, evaluation_id: int, source_ids: Collection[int]) -> list[tuple[str, str, int | None, int]]:
    """How many findings of the evaluation about the sources ``source_ids`` there are per
    (rule id, status, exception id): what :func:`iter_findings_in_scope` would give, counted by
    PostgreSQL instead of read. One query."""
    return list(
        Finding.objects.filter(evaluation_id=evaluation_id, source_id__in=list(source_ids))
        .values_list("rule_id", "status", "exception_id")
        .annotate(n=Count("id"))
        .order_by("rule_id", "status", "exception_id")
    )


def requirement_statuses(*, evaluation_id: int) -> dict[int, StatusAsOf]:
    """Each requirement's status in the evaluation, by requirement id. One query."""
    return {
        s.requirement_id: {
            "status": s.status,
            "population": s.population,
            "failed": s.failed,
            "excepted": s.excepted,
            "not_assessed": s.not_assessed,
        }
        for s in RequirementStatus.objects.filter(evaluation_id=evaluation_id)
    }


def posture_history(*, start: datetime, end: datetime, requirement_ids: list[int], points: int) -> list[PostureAt]:
    """Per succeeded evaluation whose ``as_of`` is from ``start`` to ``end`` (oldest first; at
    most ``points``, evenly spaced, always keeping the last): how many of ``requirement_ids``
    that rules test had each status. Two queries."""
    ids = list(
        Evaluation.objects.filter(state=Evaluation.State.SUCCEEDED, as_of__gte=start, as_of__lte=end)
        .order_by("as_of", "id")
        .values_list("id", "as_of")
    )
    if len(ids) > points:  # evenly spaced, always keeping the last
        step = len(ids) / points
        ids = [ids[int(i * step)] for i in range(points - 1)] + [ids[-1]]
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for ev_id, status, n in (
        RequirementStatus.objects.filter(evaluation_id__in=[i for i, _ in ids], requirement_id__in=requirement_ids)
        .exclude(rule_ids=[])
        .values_list("evaluation_id", "status")
        .annotate(n=Count("id"))
        .order_by()
    ):
        counts[ev_id][status] = n
    return [{"evaluation_id": ev_id, "as_of": iso_utc(at), "counts": dict(sorted(counts.get(ev_id, {}).items()))} for ev_id, at in ids]
