"""Reads for the posture dashboard and a requirement's page: statuses grouped by clause with their
trend, the overall posture per evaluation, one requirement's status, rules and controls."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC

from apps.catalog.models import Clause, Requirement
from apps.core.permissions import objects_for
from apps.evaluation.charts import PosturePoint, TrendPoint
from apps.evaluation.models import Evaluation, RequirementStatus
from apps.evaluation.selectors.evaluations import (
    TREND_LENGTH,
    display_status,
    evaluation_label,
    latest_attempt,
    latest_evaluation,
    recent_evaluations,
)


@dataclass
class RequirementRow:
    requirement: Requirement
    status: RequirementStatus
    shown_status: str  # pass | fail | excepted | not_assessed | manual
    passed: int
    trend: list[TrendPoint] = field(default_factory=list)


@dataclass
class ClauseGroup:
    clause: Clause
    rows: list[RequirementRow] = field(default_factory=list)


@dataclass
class Dashboard:
    evaluation: Evaluation | None
    attempt: Evaluation | None  # the newest evaluation of any state
    clauses: list[ClauseGroup]
    totals: dict[str, int]  # requirements per shown status in the latest evaluation
    history: list[PosturePoint]


def posture_dashboard() -> Dashboard:
    """The latest evaluation's requirement statuses grouped by clause, each with its trend
    over the last evaluations, and the overall posture per evaluation. Five queries."""
    evaluation = latest_evaluation()
    attempt = latest_attempt()
    if evaluation is None:
        return Dashboard(None, attempt, [], {}, [])
    evaluations = recent_evaluations()
    if evaluation.pk not in {e.pk for e in evaluations}:  # started earlier but finished later than the rest
        evaluations = (evaluations + [evaluation])[-TREND_LENGTH:]
    labels = {e.pk: evaluation_label(e) for e in evaluations}
    by_requirement: dict[int, dict[int, tuple]] = defaultdict(dict)
    per_evaluation: dict[int, Counter] = {e.pk: Counter() for e in evaluations}
    rows = RequirementStatus.objects.filter(evaluation_id__in=list(labels)).values_list(
        "evaluation_id", "requirement_id", "status", "population", "failed", "excepted", "not_assessed", "rule_ids"
    )
    for eval_id, req_id, status, population, failed, excepted, na, rule_ids in rows:
        shown = display_status(status, rule_ids)
        by_requirement[req_id][eval_id] = (shown, population, failed, excepted, na)
        per_evaluation[eval_id][shown] += 1

    groups: dict[int, ClauseGroup] = {}
    totals: Counter = Counter()
    statuses = (
        RequirementStatus.objects.filter(evaluation=evaluation)
        .select_related("requirement__clause")
        .order_by("requirement__position", "requirement__ref")
    )
    for rs in statuses:
        shown = display_status(rs.status, rs.rule_ids)
        totals[shown] += 1
        trend = []
        for e in evaluations:
            seen = by_requirement[rs.requirement_id].get(e.pk)
            trend.append(TrendPoint(labels[e.pk], *seen) if seen else TrendPoint(labels[e.pk]))
        row = RequirementRow(rs.requirement, rs, shown, max(0, rs.population - rs.failed - rs.excepted - rs.not_assessed), trend)
        clause = rs.requirement.clause
        groups.setdefault(clause.pk, ClauseGroup(clause)).rows.append(row)
    history = [PosturePoint(labels[e.pk], f"{e.as_of.astimezone(UTC):%m-%d}", dict(per_evaluation[e.pk])) for e in evaluations]
    return Dashboard(evaluation, attempt, sorted(groups.values(), key=lambda g: g.clause.ref), dict(totals), history)


def requirement_status_in(*, evaluation: Evaluation | None, requirement: Requirement) -> RequirementStatus | None:
    if evaluation is None:
        return None
    return RequirementStatus.objects.filter(evaluation=evaluation, requirement=requirement).first()


def requirement_rule_ids(*, requirement: Requirement, status: RequirementStatus | None) -> list[str]:
    """The rules that test ``requirement``: the catalog's, then any the evaluation used besides."""
    ids = list(requirement.rule_ids or [])
    for rule_id in (status.rule_ids if status else None) or []:
        if rule_id not in ids:
            ids.append(rule_id)
    return ids


def controls_for(*, user, requirement: Requirement):
    from apps.controls.models import Control

    return (
        objects_for(user, "controls.view_control", Control.objects.filter(requirements=requirement)).select_related("owner").order_by("ref")
    )
