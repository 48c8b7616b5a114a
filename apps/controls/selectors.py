from __future__ import annotations

from django.db.models import Count, Prefetch, Q, QuerySet

from apps.core.permissions import objects_for
from apps.accounts.sharing import object_shares
from apps.catalog.models import Requirement
from apps.controls.models import Control, ControlEvidence


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
    return Control.objects.select_related("owner", "created_by").prefetch_related(
        Prefetch("requirements", queryset=Requirement.objects.select_related("clause").order_by("position")),
        Prefetch("evidence", queryset=ControlEvidence.objects.select_related("uploaded_by").order_by("-uploaded_at")),
    ).get(pk=pk)


def control_shares(*, control: Control) -> list[tuple[object, list[str]]]:
    return object_shares(control)
