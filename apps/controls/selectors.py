"""Reads of the control register: the controls a user may view, one control, its shares, and
the controls as they stood at a point in time (for the evidence pack)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import TypedDict

from django.db.models import Count, Prefetch, Q, QuerySet

from apps.accounts.sharing import object_shares
from apps.catalog.models import Requirement
from apps.controls.models import Control, ControlEvidence
from apps.core.isotime import iso_utc
from apps.core.permissions import objects_for


def control_list(*, user, status: str = "", requirement: str = "", owner: str = "", q: str = "") -> QuerySet[Control]:
    """Controls ``user`` may view, filtered; owner and requirements preloaded."""
    qs = objects_for(user, "controls.view_control", Control.objects.all())
    if status:
        qs = qs.filter(implementation_status=status)
    if requirement:
        qs = qs.filter(requirements__ref=requirement)
    if owner:
        qs = qs.filter(owner__username=owner)
    if q:
        qs = qs.filter(Q(ref__icontains=q) | Q(title__icontains=q) | Q(narrative__icontains=q))
    return (
        qs.select_related("owner")
        .prefetch_related(Prefetch("requirements", queryset=Requirement.objects.only("id", "ref", "title").order_by("ref")))
        .annotate(evidence_count=Count("evidence", distinct=True))
        .order_by("ref")
        .distinct()
    )


def control_get(*, pk: int) -> Control:
    return (
        Control.objects.select_related("owner", "created_by")
        .prefetch_related(
            Prefetch("requirements", queryset=Requirement.objects.select_related("clause").order_by("position")),
            Prefetch("evidence", queryset=ControlEvidence.objects.select_related("uploaded_by").order_by("-uploaded_at")),
        )
        .get(pk=pk)
    )


def control_shares(*, control: Control) -> list[tuple[object, list[str]]]:
    return object_shares(control)


class EvidenceAsOf(TypedDict):
    id: int
    name: str
    description: str
    sha256: str
    size: int
    content_type: str
    effective_date: str
    uploaded_at: str | None
    uploaded_by: str


class ControlAsOf(TypedDict):
    ref: str
    title: str
    owner: str
    narrative: str
    implementation_status: str
    test_frequency: str
    rule_ids: list[str]
    requirements: list[str]  # refs of every requirement the control serves, sorted
    evidence: list[EvidenceAsOf]  # uploaded by T, oldest first


def controls_as_of(*, requirement_ids: list[int], as_of: datetime, viewers: list | None = None) -> list[ControlAsOf]:
    """The controls created by ``as_of`` that serve any of ``requirement_ids``, by ref, with
    their narrative and the manual evidence uploaded by then. Controls are not versioned:
    their current text is returned (the audit trail holds their changes). Given ``viewers``,
    only the controls every one of them may view (``controls.view_control``, as the control
    register filters them; no viewers: none). Three queries, plus one per viewer."""
    scoped = Control.objects.filter(created_at__lte=as_of, requirements__in=requirement_ids)
    if viewers is not None:
        visible = set(scoped.values_list("id", flat=True)) if viewers else set()
        for viewer in viewers:
            visible &= set(
                objects_for(viewer, "controls.view_control", Control.objects.filter(id__in=visible)).values_list("id", flat=True)
            )
        scoped = scoped.filter(id__in=visible)
    controls = scoped.distinct().select_related("owner").prefetch_related("requirements").order_by("ref")
    evidence: dict[int, list[EvidenceAsOf]] = defaultdict(list)
    for ev in (
        ControlEvidence.objects.filter(control__in=controls, uploaded_at__lte=as_of)
        .select_related("uploaded_by")
        .order_by("control_id", "uploaded_at", "id")
    ):
        evidence[ev.control_id].append(
            {
                "id": ev.id,
                "name": ev.original_name,
                "description": ev.description,
                "sha256": ev.sha256,
                "size": ev.size,
                "content_type": ev.content_type,
                "effective_date": ev.effective_date.isoformat(),
                "uploaded_at": iso_utc(ev.uploaded_at),
                "uploaded_by": ev.uploaded_by.get_username(),
            }
        )
    return [
        {
            "ref": c.ref,
            "title": c.title,
            "owner": c.owner.get_username(),
            "narrative": c.narrative,
            "implementation_status": c.implementation_status,
            "test_frequency": c.test_frequency,
            "rule_ids": list(c.rule_ids or []),
            "requirements": sorted(r.ref for r in c.requirements.all()),
            "evidence": evidence.get(c.id, []),
        }
        for c in controls
    ]


def control_ids(*, refs: list[str]) -> list[int]:
    """The ids of the controls with these refs (what the audit trail names them by)."""
    return list(Control.objects.filter(ref__in=refs).values_list("id", flat=True))


def requirement_evidence(*, as_of: datetime) -> dict[int, list[tuple]]:
    """Per requirement id: (effective date, test frequency) of every evidence file uploaded by
    ``as_of`` to a control (other than not applicable) that serves it, for
    ``apps.controls.evidence_status.manual_evidence_status``. One query."""
    out: dict[int, list[tuple]] = defaultdict(list)
    rows = (
        ControlEvidence.objects.filter(uploaded_at__lte=as_of, control__created_at__lte=as_of, control__requirements__isnull=False)
        .exclude(control__implementation_status=Control.Status.NOT_APPLICABLE)
        .values_list("control__requirements", "effective_date", "control__test_frequency")
    )
    for requirement_id, day, frequency in rows:
        out[requirement_id].append((day, frequency))
    return out
