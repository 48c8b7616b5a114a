"""Reads for the review pages: campaigns one may see, progress per reviewer, one's items;
and the access reviews as they stood at a point in time, for the evidence pack."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime

from django.db.models import Count, Q, QuerySet

from apps.accounts.models import User
from apps.core.permissions import has_perm, objects_for
from apps.reviews.models import Campaign, Remediation, RemediationEvent, ReviewItem, ReviewReminder

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
    return (
        campaigns_visible(user=user)
        .select_related("fallback_reviewer", "created_by")
        .annotate(
            decided=Count("items", filter=~Q(items__decision="")), mine=Count("items", filter=Q(items__reviewer=user, items__decision=""))
        )
        .order_by("-created_at")
    )


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


def items_failing_rules(*, campaign: Campaign, item_ids: list[int]) -> tuple[int, list[tuple[str, int]]]:
    """Of ``item_ids`` (this campaign's), how many failed at least one rule when the campaign
    started, and how many failed each rule (most first): what keeping them all would accept."""
    failing, per_rule = 0, Counter()
    for verdicts in campaign.items.filter(pk__in=item_ids).values_list("facts__verdicts", flat=True):
        rules = [str(r) for r in verdicts or [] if r]
        if rules:
            failing += 1
            per_rule.update(set(rules))
    return failing, sorted(per_rule.items(), key=lambda kv: (-kv[1], kv[0]))


def campaign_progress(*, campaign: Campaign) -> tuple[list[dict], dict[str, int]]:
    """The progress per reviewer (``reviewer_id``, ``reviewer__username`` / ``__first_name`` /
    ``__last_name`` / ``__is_active``, ``total``, ``decided``, ``flagged``, ``undecided``,
    ``percent``; by username) and the campaign's items per decision (``undecided`` and each
    decision). Two queries: the items counted per reviewer and decision from
    reviewitem_progress_idx alone (joining the users first made PostgreSQL aggregate 10,000
    joined rows), then those reviewers."""
    per: dict[int, dict] = defaultdict(lambda: {"total": 0, "decided": 0, "flagged": 0})
    decisions: Counter = Counter()
    counted = (
        campaign.items.order_by()
        .values_list("reviewer_id", "decision")
        .annotate(n=Count("*"), flagged=Count("flagged", filter=Q(flagged=True)))
    )
    for reviewer_id, decision, n, flagged in counted:
        row = per[reviewer_id]
        row["total"] += n
        row["decided"] += n if decision else 0
        row["flagged"] += flagged
        decisions[decision] += n
    reviewers = (
        User.objects.filter(pk__in=list(per)).order_by("username").values_list("pk", "username", "first_name", "last_name", "is_active")
    )
    progress = [
        {
            "reviewer_id": pk,
            "reviewer__username": username,
            "reviewer__first_name": first,
            "reviewer__last_name": last,
            "reviewer__is_active": active,
            **per[pk],
            "undecided": per[pk]["total"] - per[pk]["decided"],
            "percent": round(100 * per[pk]["decided"] / per[pk]["total"]) if per[pk]["total"] else 100,
        }
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
    return (
        _campaign_remediation(campaign)
        .select_related("credential", "owner", "item", "verified_by_run")
        .prefetch_related("events")
        .order_by("state", "due_date", "pk")
    )


def remediation_counts(*, campaign: Campaign) -> dict[str, int]:
    """How many of the campaign's remediations are in each state (every state, zeros included)."""
    counts = dict(_campaign_remediation(campaign).values_list("state").annotate(n=Count("pk")).values_list("state", "n"))
    return {state: counts.get(state, 0) for state in Remediation.State.values}


def reminders_for(*, user, limit: int = 20) -> list[ReviewReminder]:
    return list(ReviewReminder.objects.filter(reviewer=user, campaign__state=Campaign.State.ACTIVE).select_related("campaign")[:limit])


# --- as of a point in time (the evidence pack) --------------------------------------------
# The access-review part of the evidence pack, as of a date: plain JSON-ready dicts.
#
# Contract (the evidence pack calls these):
#
# - ``campaigns_for_pack(as_of=..., source_ids=None)``: each campaign started at or before
#   ``as_of`` with its state then, its frozen population and hash, its items (decisions made
#   at or before ``as_of`` only; later ones show as undecided) and its remediation (state as
#   of ``as_of`` from the append-only event log, with the verifying collection run).
#   ``source_ids`` restricts items and remediation to those sources (the population count
#   and hash stay the campaign's, since they cover the whole population).
# - ``decisions_for_credentials(credential_ids, as_of=...)``: per credential, the review
#   decisions and remediation made at or before ``as_of``.


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def _user(user) -> str | None:
    return user.get_username() if user is not None else None


def campaign_state_as_of(campaign: Campaign, as_of: datetime) -> str:
    if campaign.signed_off_at and campaign.signed_off_at <= as_of:
        return Campaign.State.SIGNED_OFF
    if campaign.cancelled_at and campaign.cancelled_at <= as_of:
        return Campaign.State.CANCELLED
    return Campaign.State.ACTIVE


def _item_dict(item: ReviewItem, as_of: datetime) -> dict:
    decided = item.decided_at is not None and item.decided_at <= as_of
    return {
        "id": item.pk,
        "credential_id": item.credential_id,
        "identity_id": item.identity_id,
        "subject": item.subject,
        "source_id": item.source_id,
        "facts": item.facts,
        # The reviewer now; reassignments after as_of are rare and in the item's history.
        "reviewer": _user(item.reviewer),
        "decision": item.decision if decided else None,
        "justification": item.justification if decided else "",
        "decided_at": _iso(item.decided_at) if decided else None,
        "decided_by": _user(item.decided_by) if decided else None,
        "flagged": item.flagged if decided else False,
    }


def _remediation_dict(r: Remediation, events: list[RemediationEvent], as_of: datetime) -> dict | None:
    past = [e for e in events if e.at <= as_of]
    if not past:
        return None
    state = past[-1].state
    verified = (
        next((e for e in reversed(past) if e.state == Remediation.State.VERIFIED), None) if state == Remediation.State.VERIFIED else None
    )
    return {
        "id": r.pk,
        "item_id": r.item_id,
        "credential_id": r.credential_id,
        "action": r.action,
        "owner": _user(r.owner),
        "due_date": r.due_date.isoformat(),
        "state": state,
        "verified_at": _iso(verified.at) if verified else None,
        "verified_by_run_id": verified.run_id if verified else None,
        "events": [{"at": _iso(e.at), "state": e.state, "run_id": e.run_id, "note": e.note} for e in past],
    }


def _remediation_by_item(item_filter: Q, as_of: datetime) -> dict[int, dict]:
    remediations = list(Remediation.objects.filter(item_filter, decided_at__lte=as_of).select_related("owner"))
    events: dict[int, list[RemediationEvent]] = defaultdict(list)
    for e in RemediationEvent.objects.filter(remediation__in=[r.pk for r in remediations]).order_by("at", "pk"):
        events[e.remediation_id].append(e)
    out = {}
    for r in remediations:
        d = _remediation_dict(r, events[r.pk], as_of)
        if d:
            out[r.item_id] = d
    return out


def campaigns_for_pack(*, as_of: datetime, source_ids: list[int] | None = None) -> list[dict]:
    """Each campaign started at or before ``as_of`` as it stood then (see the contract above), by start time."""
    campaigns = (
        Campaign.objects.filter(started_at__isnull=False, started_at__lte=as_of)
        .select_related("signed_off_by")
        .order_by("started_at", "pk")
    )
    result = []
    for c in campaigns:
        items_qs = c.items.select_related("reviewer", "decided_by").order_by("pk")
        if source_ids is not None:
            items_qs = items_qs.filter(source_id__in=source_ids)
        items = list(items_qs)
        item_filter = Q(item__campaign=c) & (Q(item__source_id__in=source_ids) if source_ids is not None else Q())
        remediation = _remediation_by_item(item_filter, as_of)
        signed = c.signed_off_at is not None and c.signed_off_at <= as_of
        result.append(
            {
                "id": c.pk,
                "name": c.name,
                "state": campaign_state_as_of(c, as_of),
                "scope": c.scope,
                "started_at": _iso(c.started_at),
                "due_date": c.due_date.isoformat(),
                "signed_off_at": _iso(c.signed_off_at) if signed else None,
                "signed_off_by": _user(c.signed_off_by) if signed else None,
                "population_count": c.population_count,
                "population_hash": c.population_hash,
                "items": [_item_dict(i, as_of) for i in items],
                "remediation": [remediation[i.pk] for i in items if i.pk in remediation],
            }
        )
    return result


def decisions_for_credentials(credential_ids, *, as_of: datetime) -> dict[int, list[dict]]:
    """``{credential_id: [{"campaign_id", "campaign", "item_id", "decision", "justification",
    "decided_at", "decided_by", "remediation": {...} | None}]}`` for decisions at or before as_of."""
    ids = list(credential_ids)
    items = list(
        ReviewItem.objects.filter(credential_id__in=ids, decided_at__isnull=False, decided_at__lte=as_of)
        .select_related("campaign", "decided_by")
        .order_by("decided_at", "pk")
    )
    remediation = _remediation_by_item(Q(item__in=[i.pk for i in items]), as_of)
    out: dict[int, list[dict]] = defaultdict(list)
    for i in items:
        out[i.credential_id].append(
            {
                "campaign_id": i.campaign_id,
                "campaign": i.campaign.name,
                "item_id": i.pk,
                "decision": i.decision,
                "justification": i.justification,
                "decided_at": _iso(i.decided_at),
                "decided_by": _user(i.decided_by),
                "flagged": i.flagged,
                "remediation": remediation.get(i.pk),
            }
        )
    return dict(out)
