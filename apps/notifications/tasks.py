"""Notification tasks, routed to the ``notifications`` queue (CELERY_TASK_ROUTES, by their
``notifications.`` names): they take ids, call one service, and own their retries
(docs/notifications.md)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from apps.notifications import services


@shared_task(name="notifications.notify", acks_late=True)
def notify(event: str, object_id: int, user_ids: list[int] | None = None, tag: str = "") -> dict:
    """A step of config/pipeline.py: record and enqueue the e-mails and webhooks of one event."""
    done = services.notification_dispatch(event=event, object_id=object_id, user_ids=user_ids, tag=tag)
    return {"emails": len(done.emails), "deliveries": len(done.deliveries)}


@shared_task(bind=True, name="notifications.send_email", acks_late=True, max_retries=None)
def send_email(self, notification_id: int) -> bool:
    try:
        return services.email_send(notification_id=notification_id)
    except OSError as exc:  # SMTPException is an OSError: the mail server refused or was unreachable
        if self.request.retries + 1 >= settings.KEYTRAIL_EMAIL_MAX_ATTEMPTS or self.request.is_eager:
            raise  # recorded on the row (attempts, error); the failure shows in the worker's log
        raise self.retry(exc=exc, countdown=services.backoff_seconds(self.request.retries + 1)) from exc


@shared_task(bind=True, name="notifications.deliver_webhook", acks_late=True, max_retries=None)
def deliver_webhook(self, delivery_id: int) -> str:
    outcome = services.webhook_attempt(delivery_id=delivery_id)
    # Eager execution (the demo) does not loop retries; where beat runs, the sweep below picks it up.
    if outcome.retry_in is not None and not self.request.is_eager:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.state


@shared_task(name="notifications.retry_overdue")
def retry_overdue() -> int:
    """Beat: re-enqueue deliveries whose retry is long past due (a lost message, an eager run)."""
    ids = services.webhook_retry_overdue()
    for pk in ids:
        deliver_webhook.delay(pk)
    return len(ids)
