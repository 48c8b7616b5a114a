"""Reads for the review pages: campaigns one may see, progress per reviewer, one's items."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from apps.accounts.permissions import has_perm, objects_for
from apps.reviews.models import Campaign, Remediation, ReviewItem, ReviewReminder

VIEW = "reviews.view_campaign"
MANAGE = "reviews.manage_campaign"
REVIEW = "reviews.review_campaign"


def campaigns_visible(*, user) -> QuerySet[Campaign]:
    """Every campaign for GRC leads; signed-off campaigns shared with an auditor; campaigns
    in which the user reviews items."""
    if has_perm(user, VIEW):
        return Campaign.objects.all()
    shared = objects_for(user, VIEW, Campaign.objects.filter(state=Campaign.State.SIGNED_OFF)).values("pk")
    reviewing = objects_for(user, REVIEW, Campaign.objects.all()).values("pk")
    return Campaign.objects.filter(Q(pk__in=shared) | Q(pk__in=reviewing))


def can_view_campaign(*, user, campaign: Campaign) -> bool:
    """Sees the whole campaign (not only one's own items)."""
    if has_perm(user, VIEW):
        return True
    return campaign.state == Campaign.State.SIGNED_OFF and user.has_perm(VIEW, campaign)


def can_review(*, user, campaign: Campaign) -> bool:
    return user.is_authenticated and user.is_active and user.has_perm(REVIEW, campaign)


def campaign_list(*, user) -> QuerySet[Campaign]:
    return (campaigns_visible(user=user).select_related("fallback_reviewer", "created_by")
            .annotate(decided=Count("items", filter=~Q(items__decision="")), mine=Count("items", filter=Q(items__reviewer=user, items__decision="")))
            .order_by("-created_at"))


def campaign_items(*, campaign: Campaign, reviewer=None, decision: str = "", q: str = "") -> QuerySet[ReviewItem]:
    qs = campaign.items.select_related("reviewer", "decided_by", "remediation").order_by("pk")
    if reviewer is not None:
        qs = qs.filter(reviewer=reviewer)
    if decision == "undecided":
        qs = qs.filter(decision="")
    elif decision:
        qs = qs.filter(decision=decision)
    if q:
        qs = qs.filter(subject__icontains=q[:100])
    return qs


def progress_by_reviewer(*, campaign: Campaign) -> list[dict]:
    rows = (campaign.items.values("reviewer_id", "reviewer__username", "reviewer__first_name", "reviewer__last_name", "reviewer__is_active")
            .annotate(total=Count("pk"), decided=Count("pk", filter=~Q(decision="")), flagged=Count("pk", filter=Q(flagged=True)))
            .order_by("reviewer__username"))
    return [{**r, "undecided": r["total"] - r["decided"], "percent": round(100 * r["decided"] / r["total"]) if r["total"] else 100} for r in rows]


def decision_counts(*, campaign: Campaign) -> dict[str, int]:
    counts = dict(campaign.items.values_list("decision").annotate(n=Count("pk")).values_list("decision", "n"))
    return {"undecided": counts.get("", 0), **{d: counts.get(d, 0) for d in ReviewItem.Decision.values}}


def remediation_list(*, campaign: Campaign) -> QuerySet[Remediation]:
    # Shown by the item's subject and the credential's name: their JSON (the frozen facts, tags,
    # attributes) is left unread; decoding it was most of the time spent reading a page.
    return (Remediation.objects.filter(item__campaign=campaign).select_related("credential", "owner", "item", "verified_by_run")
            .defer("item__facts", "credential__tags", "credential__attributes")
            .prefetch_related("events").order_by("state", "due_date", "pk"))


def remediation_counts(*, campaign: Campaign) -> dict[str, int]:
    """How many of the campaign's remediations are in each state (every state, zeros included)."""
    counts = dict(Remediation.objects.filter(item__campaign=campaign).values_list("state").annotate(n=Count("pk")).values_list("state", "n"))
    return {state: counts.get(state, 0) for state in Remediation.State.values}


def reminders_for(*, user, limit: int = 20) -> list[ReviewReminder]:
    return list(ReviewReminder.objects.filter(reviewer=user, campaign__state=Campaign.State.ACTIVE).select_related("campaign")[:limit])
