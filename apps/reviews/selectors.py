"""Reads for the review pages: campaigns one may see, progress per reviewer, one's items."""

from __future__ import annotations

from collections import Counter, defaultdict

from django.db.models import Count, Q, QuerySet

from apps.accounts.models import User
from apps.core.permissions import has_perm, objects_for
from apps.reviews.models import Campaign, Remediation, ReviewItem, ReviewReminder

VIEW = "reviews.view_campaign"
MANAGE = "reviews.manage_campaign"
REVIEW = "reviews.review_campaign"
REMEDIATED = (ReviewItem.Decision.REVOKE, ReviewItem.Decision.ROTATE)  # the decisions that open a remediation (services)


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


def campaign_progress(*, campaign: Campaign) -> tuple[list[dict], dict[str, int]]:
    """The progress per reviewer (``reviewer_id``, ``reviewer__username`` / ``__first_name`` /
    ``__last_name`` / ``__is_active``, ``total``, ``decided``, ``flagged``, ``undecided``,
    ``percent``; by username) and the campaign's items per decision (``undecided`` and each
    decision). Two queries: the items counted per reviewer and decision from
    reviewitem_progress_idx alone (joining the users first made PostgreSQL aggregate 10,000
    joined rows), then those reviewers."""
    per: dict[int, dict] = defaultdict(lambda: {"total": 0, "decided": 0, "flagged": 0})
    decisions: Counter = Counter()
    counted = (campaign.items.order_by().values_list("reviewer_id", "decision")
               .annotate(n=Count("*"), flagged=Count("flagged", filter=Q(flagged=True))))
    for reviewer_id, decision, n, flagged in counted:
        row = per[reviewer_id]
        row["total"] += n
        row["decided"] += n if decision else 0
        row["flagged"] += flagged
        decisions[decision] += n
    reviewers = User.objects.filter(pk__in=list(per)).order_by("username").values_list("pk", "username", "first_name", "last_name", "is_active")
    progress = [
        {"reviewer_id": pk, "reviewer__username": username, "reviewer__first_name": first, "reviewer__last_name": last,
         "reviewer__is_active": active, **per[pk], "undecided": per[pk]["total"] - per[pk]["decided"],
         "percent": round(100 * per[pk]["decided"] / per[pk]["total"]) if per[pk]["total"] else 100}
        for pk, username, first, last, active in reviewers
    ]
    counts = {"undecided": decisions.get("", 0), **{d: decisions.get(d, 0) for d in ReviewItem.Decision.values}}
    return progress, counts


def _campaign_remediation(campaign: Campaign) -> QuerySet[Remediation]:
    # Only revoke and rotate decisions oblige a remediation, and a decision is final: saying so
    # reaches the campaign's remediation through reviewitem_decision_idx, where the campaign
    # alone made PostgreSQL read every item of the campaign to find a few hundred.
    return Remediation.objects.filter(item__campaign=campaign, item__decision__in=REMEDIATED)


def remediation_list(*, campaign: Campaign) -> QuerySet[Remediation]:
    return (_campaign_remediation(campaign).select_related("credential", "owner", "item", "verified_by_run")
            .prefetch_related("events").order_by("state", "due_date", "pk"))


def remediation_counts(*, campaign: Campaign) -> dict[str, int]:
    """How many of the campaign's remediations are in each state (every state, zeros included)."""
    counts = dict(_campaign_remediation(campaign).values_list("state").annotate(n=Count("pk")).values_list("state", "n"))
    return {state: counts.get(state, 0) for state in Remediation.State.values}


def reminders_for(*, user, limit: int = 20) -> list[ReviewReminder]:
    return list(ReviewReminder.objects.filter(reviewer=user, campaign__state=Campaign.State.ACTIVE).select_related("campaign")[:limit])
