"""Reads of the findings, narrowed to the sources a user may view, and the sources to filter them by."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.evaluation.models import Evaluation, Finding
from apps.evaluation.rules.base import SEVERITIES
from apps.evaluation.selectors.evaluations import FINDING_STATUSES
from apps.inventory.models import Source
from apps.inventory.selectors import visible_sources


def finding_list(
    *, user, evaluation: Evaluation, rule_ids=None, rule: str = "", status: str = "", severity: str = "", source: str = "", q: str = ""
) -> QuerySet[Finding]:
    """The findings of ``evaluation`` about sources ``user`` may view, filtered, in a stable
    order; the source joined in (a subject's link needs only the ids stored on the finding)."""
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
    if q:
        qs = qs.filter(subject_label__icontains=q)
    # ``data`` (the values judged on) is not shown in lists: left unloaded.
    return qs.select_related("source").defer("data").order_by("rule_id", "status", "pk")


def sees_every_source(*, user) -> bool:
    """True if ``user`` views every source through a role (no finding is hidden from them)."""
    return bool(getattr(user, "is_authenticated", False)) and user.has_perm("inventory.view_source")


def source_choices(*, user) -> QuerySet[Source]:
    return visible_sources(user=user).only("id", "name").order_by("name")
