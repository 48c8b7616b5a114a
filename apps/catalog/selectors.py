"""Reads of the catalog: requirements (with their clause), clauses, search."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Prefetch, Q, QuerySet

from apps.catalog.models import Clause, Requirement


def requirement_list(*, include_retired: bool = False) -> QuerySet[Requirement]:
    qs = Requirement.objects.select_related("clause").annotate(control_count=Count("controls", distinct=True))
    if not include_retired:
        qs = qs.filter(retired_in__isnull=True)
    return qs.order_by("position", "ref")


def requirement_choices() -> QuerySet[Requirement]:
    """The requirements not retired, by position then ref, for a choice among them (no annotation)."""
    return Requirement.objects.filter(retired_in__isnull=True).order_by("position", "ref")


def clause_list_with_requirements() -> QuerySet[Clause]:
    reqs = requirement_list()
    return Clause.objects.prefetch_related(Prefetch("requirements", queryset=reqs, to_attr="active_requirements")).order_by("ref")


def requirement_get(*, ref: str) -> Requirement:
    return Requirement.objects.select_related("clause", "introduced_in", "updated_in", "retired_in").get(ref=ref)


def requirement_search(qs: QuerySet[Requirement], text: str) -> QuerySet[Requirement]:
    if not text:
        return qs
    return qs.filter(Q(ref__icontains=text) | Q(title__icontains=text) | Q(statement__icontains=text) | Q(topic__icontains=text))


@dataclass(frozen=True)
class RequirementInScope:
    """A sub-requirement as an evidence pack shows it."""

    id: int
    ref: str
    clause_ref: str
    title: str
    statement: str
    automatable: bool
    rule_ids: list[str]
    # ADR 0016: rules | partial | manual, what the rules prove, what manual evidence must show.
    coverage: str = "manual"
    rules_cover: str = ""
    manual_evidence_for: str = ""


def requirements_in_scope(*, ids: list[int]) -> list[RequirementInScope]:
    """The requirements with ``ids`` (retired ones included), or every requirement not
    retired when ``ids`` is empty; ordered by position, then ref. One query."""
    qs = Requirement.objects.filter(id__in=ids) if ids else Requirement.objects.filter(retired_in__isnull=True)
    return [
        RequirementInScope(
            id=r.id,
            ref=r.ref,
            clause_ref=r.clause.ref,
            title=r.title,
            statement=r.statement,
            automatable=r.automatable,
            rule_ids=list(r.rule_ids or []),
            coverage=r.coverage,
            rules_cover=r.rules_cover,
            manual_evidence_for=r.manual_part,
        )
        for r in qs.select_related("clause").order_by("position", "ref")
    ]
