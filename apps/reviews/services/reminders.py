"""Reminding reviewers of their undecided items: at the marks before the due date, daily once
overdue (the scheduler), and now, on the GRC lead's request (optionally escalated)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.audit import events
from apps.core import pipeline
from apps.core.errors import IllegalTransition, ValidationFailed
from apps.reviews.models import Campaign, ReviewReminder
from apps.reviews.services._common import MANAGE, State, current_date, require_perm
from apps.reviews.services.assignment import reviewer_deactivated


def _remind(campaign: Campaign, reviewer, mark: str, undecided: int, *, actor=None, escalate_to=()) -> bool:
    days_left = (campaign.due_date - current_date()).days
    when = (
        f"is due in {days_left} day{'s' if days_left != 1 else ''}"
        if days_left >= 0
        else f"was due {-days_left} day{'s' if days_left != -1 else ''} ago"
    )
    message = f"{undecided} item{'s' if undecided != 1 else ''} in '{campaign.name}' await your decision; the campaign {when} ({campaign.due_date:%Y-%m-%d})."
    try:
        # The reminder is recorded (once per mark) and its e-mail, with a link to the reviewer's
        # items, is sent after commit by apps.notifications, which retries a failing mail server.
        with transaction.atomic():
            reminder = ReviewReminder.objects.create(
                campaign=campaign, reviewer=reviewer, mark=mark, message=message, sent_at=timezone.now()
            )
            events.review_reminded(campaign=campaign, reviewer=reviewer, mark=mark, undecided=undecided, actor=actor)
            pipeline.publish(
                "review.overdue" if days_left < 0 else "review.due_soon",
                reminder_id=reminder.pk,
                cc_user_ids=sorted({u.pk for u in escalate_to if u.pk != reviewer.pk}),
            )
    except IntegrityError:
        return False  # this mark was already sent
    return True


def _pending_by_reviewer(campaign: Campaign) -> dict[int, int]:
    return dict(Counter(campaign.items.filter(decision="").values_list("reviewer_id", flat=True)))


def reviews_send_reminders(*, today: dt.date | None = None) -> int:
    """For each campaign in review: first move items of deactivated reviewers to the fallback,
    then remind each reviewer with undecided items at the reminder marks before the due date
    (each mark once) and every day once overdue. Returns how many reminders were sent."""
    from apps.accounts.models import User

    today = today or current_date()
    for user in User.objects.filter(is_active=False, review_items__decision="", review_items__campaign__state=State.ACTIVE).distinct():
        reviewer_deactivated(user=user)
    marks = sorted(set(settings.KEYTRAIL_REVIEW_REMINDER_DAYS))
    sent = 0
    for campaign in Campaign.objects.filter(state=State.ACTIVE):
        days_left = (campaign.due_date - today).days
        if days_left < 0:
            mark = f"overdue:{today:%Y-%m-%d}"
        else:
            reached = [m for m in marks if days_left <= m]
            if not reached:
                continue
            mark = f"before:{min(reached)}"
        pending = _pending_by_reviewer(campaign)
        for reviewer in User.objects.filter(pk__in=pending, is_active=True):
            sent += _remind(campaign, reviewer, mark, pending[reviewer.pk])
    return sent


def campaign_remind(*, actor, campaign: Campaign, reviewer, escalate: bool = False) -> bool:
    """The GRC lead reminds one reviewer now (escalating copies the fallback reviewer and the GRC lead)."""
    require_perm(actor, MANAGE)
    if campaign.state != State.ACTIVE:
        raise IllegalTransition(f"{campaign} is {campaign.get_state_display().lower()}; nobody needs reminding.")
    undecided = campaign.items.filter(reviewer=reviewer, decision="").count()
    if not undecided:
        raise ValidationFailed(f"{reviewer} has no undecided item in this campaign.")
    kind = "escalated" if escalate else "manual"
    return _remind(
        campaign,
        reviewer,
        f"{kind}:{timezone.now():%Y%m%d%H%M%S%f}",
        undecided,
        actor=actor,
        escalate_to=(campaign.fallback_reviewer, actor) if escalate else (),
    )
