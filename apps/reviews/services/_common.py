"""What the review services share: the permission check, today's date, locking a campaign,
checking a campaign's settings, and the remediation rows a revoke or rotate decision opens."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone

from apps.core.errors import IllegalTransition, PermissionRefused, ValidationFailed
from apps.core.permissions import has_perm
from apps.reviews.models import Campaign, JustificationRule, Remediation, RemediationEvent, ReviewItem, UndecidedRule
from apps.reviews.population import normalise_scope

MANAGE = "reviews.manage_campaign"
State = Campaign.State
Decision = ReviewItem.Decision


def require_perm(actor, perm: str, obj=None) -> None:
    """Returns nothing; raises PermissionRefused when ``actor`` lacks ``perm`` (on ``obj``)."""
    if not has_perm(actor, perm, obj):
        raise PermissionRefused(f"{actor} may not {perm.split('.', 1)[1].replace('_', ' ')}")


def current_date() -> dt.date:
    """Today in UTC (the due dates' calendar)."""
    return timezone.now().date()


def locked(campaign: Campaign) -> Campaign:
    """The campaign read again and row-locked until the transaction ends."""
    return Campaign.objects.select_for_update().get(pk=campaign.pk)


def clean_settings(*, name: str, scope: dict, fallback_reviewer, justification_rule: str, undecided_rule: str) -> dict:
    """The settings a campaign and a template share, cleaned; raises ValidationFailed naming the first bad one."""
    if not (name or "").strip():
        raise ValidationFailed("Name: give the campaign a name.")
    if fallback_reviewer is None or not fallback_reviewer.is_active:
        raise ValidationFailed("Fallback reviewer: choose an active user.")
    if justification_rule not in JustificationRule.values:
        raise ValidationFailed(f"Justification: choose one of {', '.join(JustificationRule.values)}.")
    if undecided_rule not in UndecidedRule.values:
        raise ValidationFailed(f"Undecided items: choose one of {', '.join(UndecidedRule.values)}.")
    return dict(
        name=name.strip()[:200],
        scope=normalise_scope(scope),
        fallback_reviewer=fallback_reviewer,
        justification_rule=justification_rule,
        undecided_rule=undecided_rule,
    )


def check_open(campaign: Campaign) -> None:
    """Returns nothing; raises IllegalTransition unless the campaign is in review."""
    if campaign.state == State.SIGNED_OFF:
        raise IllegalTransition(f"{campaign} was signed off on {campaign.signed_off_at:%Y-%m-%d}; its decisions are locked.")
    if campaign.state != State.ACTIVE:
        raise IllegalTransition(f"{campaign} is {campaign.get_state_display().lower()}; nothing can be decided.")


def remediation_rows(items, *, decision: str, owner_id: int, now) -> None:
    """Opens one remediation (with its first event) per item about a credential; returns nothing."""
    due = (now + dt.timedelta(days=settings.KEYTRAIL_REVIEW_REMEDIATION_DAYS)).date()
    made = Remediation.objects.bulk_create(
        [
            Remediation(item_id=i.pk, credential_id=i.credential_id, action=decision, owner_id=owner_id, due_date=due, decided_at=now)
            for i in items
            if i.credential_id
        ]
    )
    RemediationEvent.objects.bulk_create(
        [RemediationEvent(remediation=r, at=now, state=Remediation.State.OPEN, note=f"{decision} decided") for r in made]
    )
