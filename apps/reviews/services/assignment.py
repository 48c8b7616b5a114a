"""Who reviews an item: the GRC lead reassigns, a reviewer delegates, and a deactivated
reviewer's undecided items move to the campaign's fallback reviewer."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from guardian.shortcuts import assign_perm

from apps.accounts.roles import Role
from apps.accounts.selectors import user_is_active_with_role
from apps.audit import events
from apps.core import pipeline
from apps.core.errors import IllegalTransition, PermissionRefused, ValidationFailed
from apps.reviews.models import Campaign, ReviewAssignment, ReviewItem
from apps.reviews.population import is_own_identity
from apps.reviews.services._common import MANAGE, State, check_open, locked, require_perm


def _check_recipient(to_reviewer) -> None:
    """Items go only to an active user holding the reviewer role: whoever receives them gets
    ``review_campaign`` and may decide them, so an auditor (who must stay independent of what
    they audit), an approver or a deactivated account must not."""
    if not to_reviewer.is_active:
        raise ValidationFailed(f"{to_reviewer} is deactivated; choose someone else.")
    if not user_is_active_with_role(to_reviewer, Role.REVIEWER):
        raise ValidationFailed(f"{to_reviewer} does not hold the reviewer role; items go only to reviewers.")


def _reassign(*, actor, campaign: Campaign, items: list[ReviewItem], to_reviewer, reason: str, note: str) -> int:
    if not to_reviewer.is_active:
        raise ValidationFailed(f"{to_reviewer} is deactivated; choose someone else.")
    own = [i for i in items if is_own_identity(to_reviewer, i.facts)]
    if own:
        raise ValidationFailed(f"{to_reviewer} would review their own identity ({own[0].subject[:120]}); nothing was reassigned.")
    items = [i for i in items if i.reviewer_id != to_reviewer.pk]
    if not items:
        return 0
    now = timezone.now()
    names = dict(type(to_reviewer).objects.filter(pk__in={i.reviewer_id for i in items}).values_list("pk", "username"))
    for i in items:
        i.previous_reviewer = names.get(i.reviewer_id)
    ReviewItem.objects.filter(pk__in=[i.pk for i in items]).update(reviewer=to_reviewer)
    ReviewAssignment.objects.bulk_create(
        [
            ReviewAssignment(
                item_id=i.pk, from_reviewer_id=i.reviewer_id, to_reviewer=to_reviewer, reason=reason, note=note, by=actor, at=now
            )
            for i in items
        ]
    )
    assign_perm("review_campaign", to_reviewer, campaign)
    events.review_items_reassigned(actor=actor, items=items, to_reviewer=to_reviewer, reason=reason, note=note)
    # The new reviewer is told (e-mail, webhooks: config/pipeline.py).
    pipeline.publish("review.assigned", campaign_id=campaign.pk, reviewer_ids=[to_reviewer.pk], tag=f"{reason}:{now:%Y%m%dT%H%M%S%f}")
    return len(items)


@transaction.atomic
def items_reassign(*, actor, campaign: Campaign, to_reviewer, note: str, item_ids: list[int] | None = None, from_reviewer=None) -> int:
    """The GRC lead moves undecided items (the given ones, or all of ``from_reviewer``'s) to another reviewer."""
    campaign = locked(campaign)
    require_perm(actor, MANAGE)
    check_open(campaign)
    if not (note or "").strip():
        raise ValidationFailed("Note: say why the items are reassigned.")
    _check_recipient(to_reviewer)
    qs = campaign.items.filter(decision="")
    if item_ids is not None:
        qs = qs.filter(pk__in=item_ids)
    if from_reviewer is not None:
        qs = qs.filter(reviewer=from_reviewer)
    return _reassign(
        actor=actor,
        campaign=campaign,
        items=list(qs.only("pk", "campaign_id", "reviewer_id", "subject", "facts", "credential_id")),
        to_reviewer=to_reviewer,
        reason=ReviewAssignment.Reason.REASSIGNED,
        note=note.strip(),
    )


@transaction.atomic
def items_delegate(*, actor, campaign: Campaign, item_ids: list[int], to_reviewer, note: str) -> int:
    """A reviewer hands some of their undecided items to someone else, with a note."""
    campaign = locked(campaign)
    check_open(campaign)
    if not (note or "").strip():
        raise ValidationFailed("Note: say why you delegate these items.")
    if to_reviewer.pk == actor.pk:
        raise ValidationFailed("Delegate to someone else.")
    _check_recipient(to_reviewer)
    items = list(
        campaign.items.filter(pk__in=item_ids).only("pk", "campaign_id", "reviewer_id", "decision", "subject", "facts", "credential_id")
    )
    if not items or len(items) != len(set(item_ids)):
        raise ValidationFailed("Select items of this campaign.")
    if any(i.reviewer_id != actor.pk for i in items):
        raise PermissionRefused("Some of the selected items are not assigned to you; nothing was delegated.")
    if any(i.decision for i in items):
        raise IllegalTransition("Decided items cannot be delegated.")
    return _reassign(
        actor=actor, campaign=campaign, items=items, to_reviewer=to_reviewer, reason=ReviewAssignment.Reason.DELEGATED, note=note.strip()
    )


def reviewer_deactivated(*, user) -> int:
    """Move ``user``'s undecided items in campaigns in review to each campaign's fallback
    (or, when the user is the fallback, leave them for the GRC lead, who sees them flagged)."""
    moved = 0
    for campaign in Campaign.objects.filter(state=State.ACTIVE, items__reviewer=user, items__decision="").distinct():
        with transaction.atomic():
            campaign = locked(campaign)
            if campaign.fallback_reviewer_id == user.pk or not campaign.fallback_reviewer.is_active:
                continue
            items = list(
                campaign.items.filter(reviewer=user, decision="").only(
                    "pk", "campaign_id", "reviewer_id", "subject", "facts", "credential_id"
                )
            )
            try:
                moved += _reassign(
                    actor=None,
                    campaign=campaign,
                    items=items,
                    to_reviewer=campaign.fallback_reviewer,
                    reason=ReviewAssignment.Reason.DEACTIVATED,
                    note=f"{user.get_username()} was deactivated",
                )
            except ValidationFailed:
                continue  # the fallback is the identity under review: left for the GRC lead to reassign
    return moved
