"""Telling people and systems: e-mails and webhook deliveries for the events in ``notices``,
and the webhook endpoints the GRC lead registers (docs/notifications.md).

Flow: a register publishes an event (``config/pipeline.py``) → ``tasks.notify`` →
:func:`notification_dispatch` records one EmailNotification per recipient and one
WebhookDelivery per subscribed endpoint (each keyed, so a second dispatch of the same
occurrence adds nothing) and, on commit, enqueues ``tasks.send_email`` / ``tasks.deliver_webhook``
on the ``notifications`` queue; those send, record each attempt and retry with backoff.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import smtplib
import time
import uuid
from dataclasses import dataclass

import orjson
import urllib3
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from apps.audit import events as audit_events
from apps.core.errors import IllegalTransition, PermissionRefused, ValidationFailed
from apps.core.permissions import has_perm
from apps.notifications import http, signing
from apps.notifications.models import EmailNotification, WebhookDelivery, WebhookEndpoint
from apps.notifications.notices import EVENTS, Notice, notice_for

logger = logging.getLogger(__name__)

MANAGE = "notifications.manage_webhookendpoint"
EVENT_NAMESPACE = uuid.UUID("5b0f3a5e-8f7e-4d0a-9c39-6f1d2c1f6a10")  # webhook event ids: uuid5 of the notice key


def _require(actor, perm: str) -> None:
    if not has_perm(actor, perm):
        raise PermissionRefused(f"{actor} may not manage webhook endpoints")


def _one_line(text: str, limit: int = 180) -> str:
    """A header value: control characters and line breaks become spaces (no header injection)."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())[:limit]


# --- dispatch -------------------------------------------------------------------------------


def _render(notice: Notice, recipient) -> tuple[str, str]:
    context = {
        **notice.context,
        **notice.recipient_context.get(recipient.pk, {}),
        "notice": notice,
        "recipient": recipient,
        "link": notice.link,
        "base_url": settings.KEYTRAIL_BASE_URL,
    }
    text = render_to_string(f"notifications/email/{notice.template}.txt", context)
    html = render_to_string(f"notifications/email/{notice.template}.html", context)
    return text, html


def webhook_payload(notice: Notice, event_id: uuid.UUID, occurred_at: dt.datetime) -> dict:
    """The JSON body every endpoint receives (docs/notifications.md, "Payload")."""
    return {
        "id": str(event_id),
        "event": notice.event,
        "description": EVENTS[notice.event],
        "occurred_at": occurred_at.isoformat().replace("+00:00", "Z"),
        "url": notice.link,
        "data": notice.data,
    }


@dataclass(frozen=True)
class Dispatched:
    emails: list[int]
    deliveries: list[int]


def notification_dispatch(*, event: str, object_id: int, user_ids: list[int] | None = None, tag: str = "") -> Dispatched:
    """Record the e-mails and webhook deliveries for one occurrence of ``event`` and enqueue
    them after commit. Returns the ids of the rows made by this call (none when the occurrence
    was dispatched before)."""
    from apps.notifications import tasks  # the tasks module imports this one

    notice = notice_for(event, object_id, user_ids, tag)
    if notice is None:
        return Dispatched([], [])
    now = timezone.now()
    emails, deliveries = [], []
    with transaction.atomic():
        for recipient in notice.recipients:
            text, html = _render(notice, recipient)
            row, created = EmailNotification.objects.get_or_create(
                key=notice.key_for(recipient)[:200],
                defaults={
                    "event": event,
                    "recipient": recipient,
                    "to": recipient.email,
                    "subject": _one_line(f"[keytrail] {notice.subject}"),
                    "text_body": text,
                    "html_body": html,
                    "link": notice.link,
                    "created_at": now,
                },
            )
            if created:
                emails.append(row.pk)
        event_id = uuid.uuid5(EVENT_NAMESPACE, notice.key)
        payload = webhook_payload(notice, event_id, now)
        for endpoint in WebhookEndpoint.objects.filter(active=True):
            if event not in endpoint.events:
                continue
            delivery, created = WebhookDelivery.objects.get_or_create(
                endpoint=endpoint,
                event_id=event_id,
                defaults={"event": event, "payload": payload, "created_at": now, "next_attempt_at": now},
            )
            if created:
                deliveries.append(delivery.pk)
        for pk in emails:
            transaction.on_commit(lambda pk=pk: tasks.send_email.delay(pk), robust=True)
        for pk in deliveries:
            transaction.on_commit(lambda pk=pk: tasks.deliver_webhook.delay(pk), robust=True)
    return Dispatched(emails, deliveries)


# --- e-mail ---------------------------------------------------------------------------------


def email_send(*, notification_id: int) -> bool:
    """Send one recorded e-mail unless it was sent already. Returns whether it was sent now.
    Raises what the mail backend raises (SMTPException, OSError) after recording the attempt;
    the task retries."""
    with transaction.atomic():
        # The row stays locked while the message goes out: a redelivered task waits, then sees it sent.
        row = EmailNotification.objects.select_for_update().filter(pk=notification_id).first()
        if row is None or row.sent_at is not None:
            return False
        message = EmailMultiAlternatives(subject=row.subject, body=row.text_body, to=[row.to])
        message.attach_alternative(row.html_body, "text/html")
        try:
            message.send()
        except (smtplib.SMTPException, OSError) as exc:
            failure = f"{type(exc).__name__}: {exc}"[:500]
        else:
            row.sent_at, row.attempts, row.error = timezone.now(), row.attempts + 1, ""
            row.save(update_fields=["sent_at", "attempts", "error"])
            return True
    EmailNotification.objects.filter(pk=notification_id).update(attempts=row.attempts + 1, error=failure)
    raise OSError(failure)


# --- webhooks -------------------------------------------------------------------------------


def backoff_seconds(attempt: int) -> float:
    """Delay before retry number ``attempt`` (1, 2, ...): base × 2^(attempt-1), capped, plus up
    to 10 % jitter so that many failed deliveries do not return at the same instant."""
    delay = min(settings.KEYTRAIL_WEBHOOK_BACKOFF_SECONDS * 2 ** (attempt - 1), settings.KEYTRAIL_WEBHOOK_BACKOFF_MAX_SECONDS)
    return delay + random.uniform(0, delay / 10)  # noqa: S311 - jitter, not a secret


@dataclass(frozen=True)
class Attempt:
    state: str
    retry_in: float | None  # seconds, when another attempt is due


def webhook_attempt(*, delivery_id: int) -> Attempt:
    """Post one delivery once and record the outcome. A 2xx answer delivers it; anything else
    (another status, a refused or failed connection, a timeout) is retried with backoff until
    KEYTRAIL_WEBHOOK_MAX_ATTEMPTS, then failed. A delivery already finished is left alone."""
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None or delivery.state in (WebhookDelivery.State.SUCCEEDED, WebhookDelivery.State.FAILED):
        return Attempt(delivery.state if delivery else "missing", None)
    endpoint = delivery.endpoint
    status, error = None, ""
    if not endpoint.active:
        error = "the endpoint was deactivated"
    else:
        body = orjson.dumps(delivery.payload)
        try:
            secret = signing.decrypt(endpoint.secret_encrypted)
            timestamp = int(time.time())
            headers = {
                "Content-Type": "application/json",
                "User-Agent": f"keytrail-webhooks/{settings.KEYTRAIL_VERSION}",
                "X-Keytrail-Event": delivery.event,
                "X-Keytrail-Delivery": str(delivery.event_id),
                "X-Keytrail-Signature": signing.signature(secret, timestamp, body),
            }
            response = http.post(endpoint.url, body, headers, timeout=settings.KEYTRAIL_WEBHOOK_TIMEOUT_SECONDS)
            status = response.status
            if not 200 <= status < 300:
                error = f"HTTP {status}: {_one_line(response.body_excerpt, 200)}"
        except ValidationFailed as exc:
            error = str(exc)
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}"
    now = timezone.now()
    attempts = delivery.attempts + 1
    if status is not None and not error:
        state, retry_in = WebhookDelivery.State.SUCCEEDED, None
    elif attempts >= settings.KEYTRAIL_WEBHOOK_MAX_ATTEMPTS or not endpoint.active:
        state, retry_in = WebhookDelivery.State.FAILED, None
    else:
        state, retry_in = WebhookDelivery.State.RETRYING, backoff_seconds(attempts)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        state=state,
        attempts=attempts,
        response_status=status,
        error=error[:500],
        last_attempt_at=now,
        next_attempt_at=now + dt.timedelta(seconds=retry_in) if retry_in is not None else None,
        delivered_at=now if state == WebhookDelivery.State.SUCCEEDED else None,
    )
    return Attempt(state, retry_in)


def webhook_retry_overdue(*, grace_seconds: int = 300) -> list[int]:
    """Deliveries whose retry is well past due (the broker lost it, or the task ran
    eagerly, where Celery does not loop retries): the ids to enqueue again."""
    cutoff = timezone.now() - dt.timedelta(seconds=grace_seconds)
    return list(
        WebhookDelivery.objects.filter(state__in=[WebhookDelivery.State.RETRYING, WebhookDelivery.State.PENDING], endpoint__active=True)
        .filter(next_attempt_at__lt=cutoff)
        .values_list("pk", flat=True)[:500]
    )


# --- endpoints ------------------------------------------------------------------------------


def _clean_events(names) -> list[str]:
    chosen = [n for n in EVENTS if n in set(names or [])]
    unknown = sorted(set(names or []) - set(EVENTS))
    if unknown:
        raise ValidationFailed(f"Events: unknown {', '.join(unknown)}; choose from {', '.join(EVENTS)}.")
    if not chosen:
        raise ValidationFailed("Events: choose at least one.")
    return chosen


def _clean(name: str, url: str) -> tuple[str, str]:
    name, url = (name or "").strip(), (url or "").strip()
    errors = []
    if not name:
        errors.append("Name: give the endpoint a name.")
    elif len(name) > 100:
        errors.append("Name: at most 100 characters.")
    if len(url) > 500:
        errors.append("URL: at most 500 characters.")
    if errors:
        raise ValidationFailed(" ".join(errors))
    http.check_url(url)  # resolves the host: refuses private addresses now rather than at the first event
    return name, url


@dataclass(frozen=True)
class Issued:
    endpoint: WebhookEndpoint
    secret: str  # shown once


@transaction.atomic
def endpoint_create(*, actor, name: str, url: str, events: list[str]) -> Issued:
    """Register an endpoint; returns it with its signing secret, which is shown only now."""
    _require(actor, MANAGE)
    name, url = _clean(name, url)
    chosen = _clean_events(events)
    secret = signing.new_secret()
    now = timezone.now()
    endpoint = WebhookEndpoint.objects.create(
        name=name,
        url=url,
        events=chosen,
        secret_encrypted=signing.encrypt(secret),
        secret_hint=secret[:10],
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    audit_events.webhook_endpoint_created(
        actor=actor, endpoint=endpoint, values={"name": name, "url": url, "events": chosen, "secret_hint": endpoint.secret_hint}
    )
    return Issued(endpoint, secret)


@transaction.atomic
def endpoint_update(
    *,
    actor,
    endpoint: WebhookEndpoint,
    name: str | None = None,
    url: str | None = None,
    events: list[str] | None = None,
    active: bool | None = None,
) -> WebhookEndpoint:
    """Change what is given; each changed field is audited with its old and new value."""
    _require(actor, MANAGE)
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    new_name, new_url = _clean(endpoint.name if name is None else name, endpoint.url if url is None else url)
    new = {"name": new_name, "url": new_url, "events": endpoint.events if events is None else _clean_events(events)}
    if active is not None:
        new["active"] = bool(active)
    changes = {k: [getattr(endpoint, k), v] for k, v in new.items() if getattr(endpoint, k) != v}
    if not changes:
        return endpoint
    for k, (_, v) in changes.items():
        setattr(endpoint, k, v)
    endpoint.updated_at = timezone.now()
    endpoint.save(update_fields=[*changes, "updated_at"])
    audit_events.webhook_endpoint_updated(actor=actor, endpoint=endpoint, changes=changes)
    return endpoint


@transaction.atomic
def endpoint_rotate_secret(*, actor, endpoint: WebhookEndpoint) -> Issued:
    """A new signing secret (the old one stops at once); returned to be shown once."""
    _require(actor, MANAGE)
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    if not endpoint.active:
        raise IllegalTransition(f"{endpoint} is deactivated; reactivate it first.")
    old_hint = endpoint.secret_hint
    secret = signing.new_secret()
    endpoint.secret_encrypted, endpoint.secret_hint, endpoint.updated_at = signing.encrypt(secret), secret[:10], timezone.now()
    endpoint.save(update_fields=["secret_encrypted", "secret_hint", "updated_at"])
    audit_events.webhook_endpoint_secret_rotated(actor=actor, endpoint=endpoint, old_hint=old_hint)
    return Issued(endpoint, secret)
