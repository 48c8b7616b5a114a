"""Reads for requesting an exception: the scope pickers (credentials, identities and sources
found by name), the risk its rules call for, and the failing findings a scope would excuse.

The pickers search only what ``user`` may view. The count is taken from the latest
evaluation with the same reach as the evaluation's matcher (``matching.ScopeMatcher``): a
credential by id; an identity covers its own findings and its credentials'; a source every
finding about it; a tag the credentials and identities carrying it; a broad scope every
finding of the rules. It counts what fails the rules now (failing, or already excused by
another exception): what this exception would excuse from its approval.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet, TextField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from apps.evaluation.models import Evaluation, Finding, Status
from apps.evaluation.rules.base import SEVERITIES
from apps.evaluation.selectors import latest_evaluation, registered_rule_ids, rule_info
from apps.inventory.models import Credential, Identity, Source
from apps.inventory.selectors import visible_sources

PICK_LIMIT = 20
# A picker's kind -> (the scope key, the model searched).
PICKERS: dict[str, tuple[str, type]] = {
    "credential": ("credential_ids", Credential),
    "identity": ("identity_ids", Identity),
    "source": ("source_ids", Source),
}


KINDS = ("rule", *PICKERS)


@dataclass(frozen=True)
class Pick:
    id: int | str  # a rule's id is text
    name: str
    detail: str  # the source (credentials, identities), the kind (sources), the severity (rules)


def _rule_picks(*, q: str, ids) -> list[Pick]:
    wanted = {str(i) for i in ids}
    text = q.strip().lower()
    found = []
    for rule_id in registered_rule_ids():
        info = rule_info(rule_id)
        if (wanted and rule_id in wanted) or (not wanted and text and (text in rule_id.lower() or text in info.title.lower())):
            found.append(Pick(rule_id, info.title or rule_id, info.severity))
    return found


def picks(*, user, kind: str, q: str = "", ids=(), limit: int = PICK_LIMIT) -> list[Pick]:
    """What ``user`` may view of ``kind`` whose name (or external id) contains ``q`` (present
    ones, by name), or those with ``ids``; rules by id or title. Unknown ``kind``: none."""
    if kind == "rule":
        return _rule_picks(q=q, ids=ids)
    if kind not in PICKERS:
        return []
    ids = [int(i) for i in ids if str(i).isdigit()]
    model = PICKERS[kind][1]
    allowed = visible_sources(user=user)
    qs: QuerySet
    if model is Source:
        qs = allowed.filter(enabled=True) if not ids else allowed
        detail = "kind"
    else:
        qs = model.objects.filter(source__in=allowed).select_related("source")
        if not ids:
            qs = qs.filter(disappeared_at__isnull=True)
        detail = "source"
    if ids:
        qs = qs.filter(pk__in=ids)
    elif q:
        text = q.strip()[:100]
        qs = qs.filter(Q(name__icontains=text) | Q(external_id__icontains=text)) if model is not Source else qs.filter(name__icontains=text)
    else:
        return []
    rows = qs.order_by("name", "pk")[: max(limit, len(ids))]
    if detail == "kind":
        return [Pick(s.pk, s.name, s.get_kind_display()) for s in rows]
    return [Pick(o.pk, o.name, o.source.name) for o in rows]


def rules_severity(rule_ids) -> str:
    """The highest severity of ``rule_ids`` (registered ones), "" when none: the least risk an
    exception to them may be given without a written reason."""
    ranks = [SEVERITIES.index(s) for s in (rule_info(r).severity for r in rule_ids or []) if s in SEVERITIES]
    return SEVERITIES[max(ranks)] if ranks else ""


@dataclass(frozen=True)
class Excusable:
    evaluation: Evaluation | None
    count: int  # findings that fail the rules in the scope (failing or excused by another exception)
    failing: int  # of which not excused today
    examples: list[Finding]


def excusable_findings(*, rule_ids, scope: dict, broad: bool = False, limit: int = 5) -> Excusable:
    """The findings of the latest evaluation that ``rule_ids`` within ``scope`` (normalised:
    ``credential_ids``, ``identity_ids``, ``source_ids``, ``tag``) would excuse; nothing
    counted when no evaluation has succeeded yet (``evaluation`` is None then)."""
    evaluation = latest_evaluation()
    if evaluation is None or not rule_ids:
        return Excusable(evaluation, 0, 0, [])
    qs = Finding.objects.filter(evaluation=evaluation, rule_id__in=list(rule_ids), status__in=[Status.FAIL, Status.EXCEPTED])
    if not broad:
        reach = Q(pk__in=[])
        if scope.get("credential_ids"):
            reach |= Q(credential_id__in=scope["credential_ids"])
        if scope.get("identity_ids"):
            reach |= Q(identity_id__in=scope["identity_ids"])
        if scope.get("source_ids"):
            reach |= Q(source_id__in=scope["source_ids"])
        tag = scope.get("tag")
        if tag:
            # Cast to text: compared as JSON, SQLite would parse the value as a JSON document.
            qs = qs.annotate(
                _ctag=Cast(KeyTextTransform(tag["key"], "credential__tags"), TextField()),
                _itag=Cast(KeyTextTransform(tag["key"], "identity__tags"), TextField()),
            )
            reach |= Q(_ctag=tag["value"]) | Q(_itag=tag["value"])
        qs = qs.filter(reach)
    count = qs.count()
    failing = qs.filter(status=Status.FAIL).count() if count else 0
    examples = list(qs.select_related("source").defer("data").order_by("rule_id", "pk")[:limit]) if count else []
    return Excusable(evaluation, count, failing, examples)
