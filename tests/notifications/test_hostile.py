"""The bad-input corpus through notifications: a hostile exception title and justification
reach the approvers' e-mail escaped in HTML, faithful in plain text, never in a header, and the
webhook's JSON faithfully."""

import json

import pytest
from django.core import mail
from django.utils.html import escape

from apps.accounts.roles import Role
from apps.notifications import services
from apps.notifications.models import WebhookDelivery
from tests.factories import ExceptionRequestFactory, make_user
from tests.support.hostile import SHORT_TEXT, TEXT, assert_escaped_html, assert_json_faithful, check_each, expected_stored
from tests.support.ledger import record_hostile

pytestmark = [pytest.mark.django_db, pytest.mark.hostile]


def test_hostile_text_in_e_mails_and_webhooks(django_capture_on_commit_callbacks):
    grc = make_user(Role.GRC_LEAD, username="grc", email="grc@example.test")
    make_user(Role.APPROVER, username="ann", email="ann@example.test")
    requester = make_user(Role.REVIEWER, username="req", email="req@example.test")
    services.endpoint_create(actor=grc, name="chat", url="https://8.8.8.8/hook", events=["exception.awaiting_approval"])

    def check(key, value):
        stored = expected_stored(value)
        exception = ExceptionRequestFactory(requester=requester, owner=requester, state="pending", title=stored[:200], justification=stored)
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=False):  # e-mails rendered and recorded; webhooks not posted
            done = services.notification_dispatch(event="exception.awaiting_approval", object_id=exception.pk)
        assert done.emails and done.deliveries
        for pk in done.emails:
            services.email_send(notification_id=pk)
        (message,) = mail.outbox
        message.message().as_bytes()  # Django refuses a header with a line break (BadHeaderError)
        # The title is in the subject on one line: control characters and line breaks are spaces.
        assert message.subject.startswith(f"[keytrail] {exception.ref} awaits your approval (low risk):")
        assert all(ch.isprintable() for ch in message.subject), repr(message.subject)
        if key == "newlines":
            assert message.subject.endswith("line one line two line three")
        assert stored in message.body  # plain text: as typed
        html = message.alternatives[0][0]
        assert_escaped_html(html, [value])
        if "<" in stored:
            assert escape(stored[:60]) in html
        payload = WebhookDelivery.objects.get(pk=done.deliveries[0]).payload
        if key in SHORT_TEXT:
            assert_json_faithful(json.dumps(payload), stored[:200])
        record_hostile("notifications (e-mail, webhook)", "escaped")

    check_each(TEXT, check)
