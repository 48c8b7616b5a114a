"""Retries on a real Celery worker (eager execution does not loop them): the worker consumes
the ``notifications`` queue, a receiver that fails first and a mail server that says "try later"
both get their message on the retry, after the backoff."""

import time

import pytest
from django.utils import timezone

from apps.accounts.roles import Role
from apps.exceptions_register import services as exceptions
from apps.notifications import services
from apps.notifications.models import EmailNotification, WebhookDelivery
from tests.factories import ExceptionRequestFactory, make_user
from tests.support.smtp import smtp_server  # noqa: F401 - fixture
from tests.support.webhooks import webhook_receiver  # noqa: F401 - fixture
from tests.support.worker import celery_broker, start_worker  # noqa: F401 - fixtures

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _wait_for(check, what: str, timeout: float = 90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_the_worker_retries_a_failing_receiver_and_mail_server(start_worker, webhook_receiver, smtp_server, settings):
    start_worker(
        {
            "KEYTRAIL_TEST_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "DJANGO_EMAIL_HOST": "127.0.0.1",
            "DJANGO_EMAIL_PORT": str(settings.EMAIL_PORT),
            "KEYTRAIL_WEBHOOK_BACKOFF_SECONDS": "1",
        },
        queues=["default", "notifications"],
    )
    grc = make_user(Role.GRC_LEAD, username="grc", email="grc@example.test")
    approver = make_user(Role.APPROVER, username="ann", email="ann@example.test")
    requester = make_user(Role.REVIEWER, username="req", email="req@example.test")
    webhook_receiver.statuses = [503]
    smtp_server.refuse = 1
    services.endpoint_create(actor=grc, name="chat", url=webhook_receiver.url, events=["exception.approved"])
    exception = ExceptionRequestFactory(requester=requester, owner=requester, state="pending", submitted_at=timezone.now())
    started = time.monotonic()
    exceptions.exception_approve(actor=approver, exception=exception, comment="fine")  # commits: the worker takes over

    _wait_for(lambda: WebhookDelivery.objects.filter(state="succeeded").exists(), "the webhook delivered on retry")
    delivery = WebhookDelivery.objects.get()
    assert delivery.attempts == 2 and delivery.response_status == 200 and delivery.error == ""
    assert [r.headers["x-keytrail-delivery"] for r in webhook_receiver.requests] == [str(delivery.event_id)] * 2
    _wait_for(lambda: EmailNotification.objects.filter(sent_at__isnull=False).exists(), "the e-mail sent on retry")
    row = EmailNotification.objects.get()
    assert row.attempts == 2 and row.to == "req@example.test"
    assert smtp_server.refused == 1 and [m.rcpt_tos for m in smtp_server.messages] == [["req@example.test"]]
    assert time.monotonic() - started >= 1  # the retry waited for its backoff
