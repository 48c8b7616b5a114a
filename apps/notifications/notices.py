"""What each event says, to whom, and where it links: the one catalog of notifications.

An event published by a register (``config/pipeline.py``) reaches :func:`notice_for` with the
id of the object it is about. The builder loads what it needs and returns a :class:`Notice`
(or ``None`` when there is nothing left to say: the exception was withdrawn, nobody has an
address). The same notice is rendered as e-mail (``templates/notifications/email/``) and sent
as a webhook's JSON ``data``; both carry the deep link.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone

from apps.exceptions_register.models import ExceptionReminder, ExceptionRequest
from apps.reviews.models import Campaign, Remediation, ReviewReminder

User = get_user_model()

# Every event a person can be told about, in the order the docs list them.
EVENTS: dict[str, str] = {
    "review.assigned": "Access-review items were assigned to a reviewer",
    "review.due_soon": "A reviewer's access review is due soon",
    "review.overdue": "A reviewer's access review is overdue",
    "exception.awaiting_approval": "An exception request awaits approval",
    "exception.approved": "An exception request was approved",
    "exception.rejected": "An exception request was rejected",
    "exception.expiring": "An approved exception expires soon",
    "remediation.reopened": "A verified remediation was reopened by a collection",
}


@dataclass(frozen=True)
class Notice:
    """One occurrence of an event. ``key`` names it (with the recipient it makes an e-mail's
    idempotency key; alone it makes the webhook event id)."""

    event: str
    key: str
    subject: str
    template: str
    link: str
    recipients: tuple[Any, ...]
    context: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    recipient_context: dict[int, dict[str, Any]] = field(default_factory=dict)  # by user id: what differs per person
    email_key: str = ""  # when set, e-mails are keyed on it instead (e.g. per campaign and day)

    def key_for(self, recipient) -> str:
        return f"{self.email_key or self.key}:{recipient.pk}"


def absolute(path: str) -> str:
    """The deep link: KEYTRAIL_BASE_URL (the address people reach keytrail at) + ``path``."""
    return settings.KEYTRAIL_BASE_URL.rstrip("/") + path


def _reachable(users) -> tuple[Any, ...]:
    """Active users with an address, once each, in a stable order."""
    seen: dict[int, Any] = {}
    for user in users:
        if user is not None and user.is_active and user.email and user.pk not in seen:
            seen[user.pk] = user
    return tuple(sorted(seen.values(), key=lambda u: u.pk))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _days(n: int) -> str:
    return _plural(abs(n), "day")


# --- access reviews -------------------------------------------------------------------------


def _review_assigned(campaign_id: int, user_ids: list[int], tag: str) -> Notice | None:
    campaign = Campaign.objects.filter(pk=campaign_id, state=Campaign.State.ACTIVE).first()
    if campaign is None:
        return None
    reviewers = list(User.objects.filter(pk__in=user_ids).order_by("username"))
    undecided = dict(
        campaign.items.filter(reviewer__in=reviewers, decision="").values_list("reviewer_id").annotate(n=Count("id")).order_by()
    )
    recipients = tuple(u for u in _reachable(reviewers) if undecided.get(u.pk))
    link = absolute(reverse("reviews:detail", args=[campaign.pk]) + "?reviewer=me&decision=undecided")
    return Notice(
        event="review.assigned",
        # Each assignment reaches the webhooks; a reviewer gets one e-mail per campaign and day.
        key=f"review.assigned:{campaign.pk}:{tag}",
        email_key=f"review.assigned:{campaign.pk}:{timezone.now():%Y-%m-%d}",
        subject=f"Access review “{campaign.name}”: items await your decision",
        template="review_assigned",
        link=link,
        recipients=recipients,
        context={"campaign": campaign},
        recipient_context={pk: {"undecided": n} for pk, n in undecided.items()},
        data={
            "campaign": {"id": campaign.pk, "name": campaign.name, "due_date": campaign.due_date.isoformat()},
            "reviewers": [{"username": u.get_username(), "undecided": undecided.get(u.pk, 0)} for u in reviewers],
        },
    )


def _review_reminder(event: str) -> Callable[[int, list[int], str], Notice | None]:
    def build(reminder_id: int, user_ids: list[int], tag: str) -> Notice | None:
        reminder = ReviewReminder.objects.select_related("campaign", "reviewer").filter(pk=reminder_id).first()
        if reminder is None or reminder.campaign.state != Campaign.State.ACTIVE:
            return None
        campaign = reminder.campaign
        days_left = (campaign.due_date - timezone.now().date()).days
        when = f"due in {_days(days_left)}" if days_left >= 0 else f"overdue by {_days(days_left)}"
        return Notice(
            event=event,
            key=f"{event}:{reminder.pk}",  # one reminder row per mark (or per day once overdue)
            subject=f"Access review “{campaign.name}” is {when}",
            template="review_reminder",
            link=absolute(reverse("reviews:detail", args=[campaign.pk]) + "?reviewer=me&decision=undecided"),
            recipients=_reachable([reminder.reviewer, *User.objects.filter(pk__in=user_ids)]),
            context={"campaign": campaign, "reminder": reminder, "when": when, "overdue": days_left < 0},
            data={
                "campaign": {"id": campaign.pk, "name": campaign.name, "due_date": campaign.due_date.isoformat()},
                "reviewer": reminder.reviewer.get_username(),
                "days_left": days_left,
            },
        )

    return build


# --- exceptions -----------------------------------------------------------------------------


def _exception_data(exception: ExceptionRequest) -> dict[str, Any]:
    return {
        "exception": {
            "id": exception.pk,
            "ref": exception.ref,
            "title": exception.title,
            "risk": exception.risk,
            "state": exception.state,
            "rule_ids": list(exception.rule_ids),
            "expires_on": exception.expires_on.isoformat(),
            "requester": exception.requester.get_username(),
            "owner": exception.owner.get_username(),
        }
    }


def _exception(exception_id: int) -> ExceptionRequest | None:
    return ExceptionRequest.objects.select_related("requester", "owner").filter(pk=exception_id).first()


def _approvers_for(exception: ExceptionRequest):
    """Who may decide it: holders of decide_exception (through a role or directly), never the
    requester or owner (separation of duties), nor an approver who has already decided."""
    perm = Q(groups__permissions__codename="decide_exception", groups__permissions__content_type__app_label="exceptions_register") | Q(
        user_permissions__codename="decide_exception", user_permissions__content_type__app_label="exceptions_register"
    )
    decided = exception.decisions.values_list("approver_id", flat=True)
    return (
        User.objects.filter(perm, is_active=True)
        .exclude(pk__in=[exception.requester_id, exception.owner_id])
        .exclude(pk__in=decided)
        .distinct()
    )


def _exception_awaiting(exception_id: int, user_ids: list[int], tag: str) -> Notice | None:
    exception = _exception(exception_id)
    if exception is None or exception.state != ExceptionRequest.State.PENDING:
        return None
    approvals = exception.decisions.count()
    return Notice(
        event="exception.awaiting_approval",
        # A two-approver request is announced again after its first approval, to the others.
        key=f"exception.awaiting_approval:{exception.pk}:{approvals}",
        subject=f"{exception.ref} awaits your approval ({exception.get_risk_display().lower()} risk): {exception.title}",
        template="exception_awaiting",
        link=absolute(reverse("exceptions:detail", args=[exception.pk])),
        recipients=_reachable(_approvers_for(exception)),
        context={"exception": exception, "approvals": approvals},
        data=_exception_data(exception),
    )


def _exception_decided(event: str, state: str) -> Callable[[int, list[int], str], Notice | None]:
    def build(exception_id: int, user_ids: list[int], tag: str) -> Notice | None:
        exception = _exception(exception_id)
        if exception is None or exception.state != state:
            return None
        decision = exception.decisions.select_related("approver").order_by("-id").first()
        return Notice(
            event=event,
            key=f"{event}:{exception.pk}",
            subject=f"{exception.ref} was {exception.get_state_display().lower()}",
            template="exception_decided",
            link=absolute(reverse("exceptions:detail", args=[exception.pk])),
            recipients=_reachable([exception.requester, exception.owner]),
            context={"exception": exception, "decision": decision},
            data={**_exception_data(exception), "decided_by": decision.approver.get_username() if decision else None},
        )

    return build


def _exception_expiring(reminder_id: int, user_ids: list[int], tag: str) -> Notice | None:
    reminder = ExceptionReminder.objects.select_related("exception__requester", "exception__owner").filter(pk=reminder_id).first()
    if reminder is None or reminder.exception.state != ExceptionRequest.State.APPROVED:
        return None
    exception = reminder.exception
    days_left = (exception.expires_on - timezone.now().date()).days
    return Notice(
        event="exception.expiring",
        key=f"exception.expiring:{reminder.pk}",  # one reminder row per mark (30, 7, 1 days before)
        subject=f"{exception.ref} expires in {_days(days_left)}",
        template="exception_expiring",
        link=absolute(reverse("exceptions:detail", args=[exception.pk])),
        recipients=_reachable([exception.owner, exception.requester]),
        context={"exception": exception, "days_left": days_left},
        data={**_exception_data(exception), "days_left": days_left},
    )


# --- remediation ----------------------------------------------------------------------------


def _remediation_reopened(remediation_id: int, user_ids: list[int], tag: str) -> Notice | None:
    remediation = Remediation.objects.select_related("item__campaign__created_by", "owner", "credential").filter(pk=remediation_id).first()
    if remediation is None or remediation.state != Remediation.State.REOPENED:
        return None
    event = remediation.events.order_by("-at", "-id").first()
    campaign = remediation.item.campaign
    return Notice(
        event="remediation.reopened",
        key=f"remediation.reopened:{remediation.pk}:{event.pk if event else 0}",
        subject=f"Remediation reopened: {remediation.get_action_display().lower()} {remediation.item.subject}",
        template="remediation_reopened",
        link=absolute(reverse("reviews:detail", args=[campaign.pk]) + "#remediation"),
        # The owner must act; the campaign's GRC lead sees the remediation list the link opens.
        recipients=_reachable([remediation.owner, campaign.created_by]),
        context={"remediation": remediation, "campaign": campaign, "note": event.note if event else ""},
        data={
            "remediation": {
                "id": remediation.pk,
                "action": remediation.action,
                "subject": remediation.item.subject,
                "credential_id": remediation.credential_id,
                "due_date": remediation.due_date.isoformat(),
                "owner": remediation.owner.get_username(),
                "note": event.note if event else "",
            },
            "campaign": {"id": campaign.pk, "name": campaign.name},
        },
    )


BUILDERS: dict[str, Callable[[int, list[int], str], Notice | None]] = {
    "review.assigned": _review_assigned,
    "review.due_soon": _review_reminder("review.due_soon"),
    "review.overdue": _review_reminder("review.overdue"),
    "exception.awaiting_approval": _exception_awaiting,
    "exception.approved": _exception_decided("exception.approved", ExceptionRequest.State.APPROVED),
    "exception.rejected": _exception_decided("exception.rejected", ExceptionRequest.State.REJECTED),
    "exception.expiring": _exception_expiring,
    "remediation.reopened": _remediation_reopened,
}


def notice_for(event: str, object_id: int, user_ids: list[int] | None = None, tag: str = "") -> Notice | None:
    """The notice for ``event`` about ``object_id`` (``user_ids``: the people it names, e.g. the
    reviewers given items; ``tag``: what tells two occurrences about one object apart, given by
    the publisher so that a redelivered task finds the same occurrence). ``None`` when there is
    nothing to say any more. KeyError for an event not in the catalog."""
    return BUILDERS[event](object_id, list(user_ids or []), tag)
