"""Reads for the evidence pages: engagements narrowed to what the user may view, packs."""

from __future__ import annotations

from django.db.models import Count, Max, QuerySet

from apps.core.permissions import objects_for
from apps.evidence.models import Engagement, Pack

VIEW = "evidence.view_engagement"


def engagement_list(*, user) -> QuerySet[Engagement]:
    """The engagements ``user`` may view (all for a GRC lead, those shared with an auditor)."""
    return (
        objects_for(user, VIEW, Engagement.objects.all())
        .select_related("created_by")
        .annotate(pack_count=Count("packs"), last_built=Max("packs__finished_at"))
        .order_by("-created_at")
    )


def engagement_get(*, pk: int) -> Engagement:
    return Engagement.objects.select_related("created_by").get(pk=pk)


def engagement_scope(engagement: Engagement) -> dict:
    return {"sources": list(engagement.sources.order_by("name")), "requirements": list(engagement.requirements.order_by("position", "ref"))}


def engagement_packs(*, engagement: Engagement) -> QuerySet[Pack]:
    return engagement.packs.select_related("built_by").order_by("-created_at")


def pack_get(*, engagement: Engagement, pk: int) -> Pack:
    """A pack of this engagement (another engagement's pack id answers DoesNotExist)."""
    return Pack.objects.select_related("engagement", "built_by").get(pk=pk, engagement=engagement)
