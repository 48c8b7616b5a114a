"""Deciding review items: keep, revoke or rotate, one or many at once with one justification."""

from __future__ import annotations

from collections import Counter

from django.db import transaction
from django.utils import timezone

from apps.audit import events
from apps.core.errors import IllegalTransition, PermissionRefused, ValidationFailed
from apps.reviews.models import Campaign, JustificationRule, ReviewItem
from apps.reviews.population import is_own_identity
from apps.reviews.services._common import Decision, check_open, remediation_rows


@transaction.atomic
def items_decide(*, actor, campaign: Campaign, item_ids: list[int], decision: str, justification: str) -> int:
    """Decide ``item_ids`` (one or many) with one justification. The whole batch is refused,
    and nothing changes, if any item is not in this campaign, not the actor's, already
    decided or about the actor's own identity, or if the campaign is not in review.
    One query fetches, one UPDATE decides, one INSERT audits. Returns how many were decided."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    check_open(campaign)
    if decision not in Decision.values:
        raise ValidationFailed(f"Decision: choose one of {', '.join(Decision.values)}.")
    justification = (justification or "").strip()
    if not justification and (campaign.justification_rule == JustificationRule.ALL or decision != Decision.KEEP):
        raise ValidationFailed(
            "Justification: say why"
            + (" (required for every decision)." if campaign.justification_rule == JustificationRule.ALL else f" (required to {decision}).")
        )
    wanted = sorted({int(i) for i in item_ids})
    if not wanted:
        raise ValidationFailed("Select at least one item.")
    items = list(
        ReviewItem.objects.filter(campaign=campaign, pk__in=wanted).only(
            "pk", "campaign_id", "credential_id", "reviewer_id", "decision", "subject", "facts"
        )
    )
    if len(items) != len(wanted):
        raise ValidationFailed(f"{len(wanted) - len(items)} of the selected items are not in this campaign; nothing was decided.")
    others = Counter(i.reviewer_id for i in items if i.reviewer_id != actor.pk)
    if others:
        raise PermissionRefused(
            f"{sum(others.values())} of the {len(items)} selected items are assigned to "
            f"{'another reviewer' if len(others) == 1 else f'{len(others)} other reviewers'}; nothing was decided."
        )
    done = [i for i in items if i.decision]
    if done:
        raise IllegalTransition(f"{len(done)} of the selected items are already decided (a decision is final); nothing was decided.")
    own = [i for i in items if is_own_identity(actor, i.facts)]
    if own:
        raise PermissionRefused(
            f"{len(own)} of the selected items are about your own identity; nobody reviews their own access (the GRC lead reassigns them). Nothing was decided."
        )
    now = timezone.now()
    ReviewItem.objects.filter(pk__in=wanted).update(decision=decision, justification=justification, decided_at=now, decided_by=actor)
    if decision != Decision.KEEP:
        remediation_rows(items, decision=decision, owner_id=actor.pk, now=now)
    events.review_items_decided(actor=actor, items=items, decision=decision, justification=justification)
    return len(items)
