"""Reads of the findings, narrowed to the sources a user may view, and the sources to filter them by.

Failing findings are a queue: each has an owner (the credential's owner, else its
identity's) and a due date (first failing + the policy's SLA for its severity). The list
filters by rule, status, severity, source, identity, owner and overdue, and groups by rule,
identity, source or owner (counts per group, each linking to the list filtered to it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from apps.evaluation.models import Evaluation, Finding, Status
from apps.evaluation.rules.base import SEVERITIES
from apps.evaluation.selectors.evaluations import FINDING_STATUSES
from apps.inventory.models import Source
from apps.inventory.selectors import visible_sources

NO_OWNER = "-"  # the owner filter's value for failing findings nobody owns
# group-by value -> (the finding's field grouped on, the field that names it, the list filter it links to)
GROUPS = {
    "rule": ("rule_id", "rule_id", "rule"),
    "identity": ("identity_id", "identity__name", "identity"),
    "source": ("source_id", "source__name", "source"),
    "owner": ("owner", "owner", "owner"),
}
GROUP_CHOICES = (("rule", "Rule"), ("identity", "Identity"), ("source", "Source"), ("owner", "Owner"))
GROUP_LIMIT = 500


def today() -> dt.date:
    """Today in UTC, against which due dates are read."""
    return timezone.now().date()


def finding_list(
    *,
    user,
    evaluation: Evaluation,
    rule_ids=None,
    rule: str = "",
    status: str = "",
    severity: str = "",
    source: str = "",
    q: str = "",
    identity: str = "",
    owner: str = "",
    overdue: str = "",
    group: str = "",
    on: dt.date | None = None,
) -> QuerySet[Finding]:
    """The findings of ``evaluation`` about sources ``user`` may view, filtered, in a stable
    order; the source joined in (a subject's link needs only the ids stored on the finding).
    ``owner`` is an owner as stored ("-": none); ``overdue="yes"``: failing and past due
    ``on`` (default today). ``group`` is accepted (the page's) and ignored: see :func:`finding_groups`."""
    qs = Finding.objects.filter(evaluation=evaluation)
    if not sees_every_source(user=user):
        # Everyone else's view is narrowed; for those who see every source the filter would
        # only make PostgreSQL join every finding to the sources (a finding's source is never deleted).
        qs = qs.filter(source__in=visible_sources(user=user))
    if rule_ids is not None:
        qs = qs.filter(rule_id__in=list(rule_ids))
    if rule:
        qs = qs.filter(rule_id=rule)
    if status in FINDING_STATUSES:
        qs = qs.filter(status=status)
    if severity in SEVERITIES:
        qs = qs.filter(severity=severity)
    if source.isdigit():
        qs = qs.filter(source_id=int(source))
    if identity.isdigit():
        qs = qs.filter(identity_id=int(identity))
    if owner == NO_OWNER:
        qs = qs.filter(owner="", status=Status.FAIL)
    elif owner:
        qs = qs.filter(owner=owner)
    if overdue == "yes":
        qs = qs.filter(status=Status.FAIL, due_on__lt=on or today())
    if q:
        qs = qs.filter(subject_label__icontains=q)
    # ``data`` (the values judged on) is not shown in lists: left unloaded.
    return qs.select_related("source").defer("data").order_by("rule_id", "status", "pk")


@dataclass(frozen=True)
class FindingGroup:
    filter: str  # the list filter the group links to
    value: str  # that filter's value ("" when the group has none: a finding with no identity)
    label: str
    findings: int
    failing: int
    overdue: int


def finding_groups(findings: QuerySet[Finding], *, by: str, on: dt.date | None = None) -> list[FindingGroup]:
    """``findings`` (a :func:`finding_list`) counted by ``by`` (a key of GROUPS): the most
    failing first, at most GROUP_LIMIT groups. Unknown ``by``: no group."""
    if by not in GROUPS:
        return []
    key, label, filter_name = GROUPS[by]
    on = on or today()
    rows = (
        findings.order_by()
        .values(key, label)
        .annotate(
            n=Count("pk"),
            failing=Count("pk", filter=Q(status=Status.FAIL)),
            late=Count("pk", filter=Q(status=Status.FAIL, due_on__lt=on)),
        )
        .order_by("-failing", "-n", label)[:GROUP_LIMIT]
    )
    return [
        FindingGroup(
            filter=filter_name,
            value="" if r[key] is None else (NO_OWNER if by == "owner" and not r[key] else str(r[key])),
            label=str(r[label] or ""),
            findings=r["n"],
            failing=r["failing"],
            overdue=r["late"],
        )
        for r in rows
    ]


def finding_is_overdue(finding: Finding, *, on: dt.date | None = None) -> bool:
    return finding.status == Status.FAIL and finding.due_on is not None and finding.due_on < (on or today())


def sees_every_source(*, user) -> bool:
    """True if ``user`` views every source through a role (no finding is hidden from them)."""
    return bool(getattr(user, "is_authenticated", False)) and user.has_perm("inventory.view_source")


def source_choices(*, user) -> QuerySet[Source]:
    return visible_sources(user=user).only("id", "name").order_by("name")
