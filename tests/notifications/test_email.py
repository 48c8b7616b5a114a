"""E-mails with deep links, sent through Django's SMTP backend to a real local SMTP server
(aiosmtpd, tests/support/smtp.py): one per recipient per event, escaped, never twice."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from apps.accounts.roles import Role
from apps.exceptions_register import services as exceptions
from apps.inventory.models import Credential
from apps.notifications.models import EmailNotification
from apps.notifications.services import email_send, notification_dispatch
from apps.reviews import services as reviews
from apps.reviews.models import Remediation
from apps.reviews.remediation import remediation_verify
from tests.factories import CollectionRunFactory, CollectionUnitFactory, ExceptionRequestFactory, SnapshotFactory, make_user
from tests.support.reviews import inventory, people  # noqa: F401 - fixtures
from tests.support.smtp import smtp_server  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db
BASE = "https://keytrail.example.org"


@pytest.fixture(autouse=True)
def base_url(settings):
    settings.KEYTRAIL_BASE_URL = BASE + "/"


def _start(people, inventory, name="Q4 review", capture=None):
    draft = reviews.campaign_create(
        actor=people["grc"],
        name=name,
        scope={"source_ids": [inventory["source"].pk]},
        due_date=timezone.now().date() + dt.timedelta(days=14),
        fallback_reviewer=people["fallback"],
    )
    return reviews.campaign_start(actor=people["grc"], campaign=draft)


def test_each_reviewer_is_told_of_their_items_with_a_link(people, inventory, smtp_server, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        campaign = _start(people, inventory)
    link = f"{BASE}/reviews/{campaign.pk}/?reviewer=me&decision=undecided"
    # alice: the service user's key; bob: the secret; the fallback: alice's own key and the orphan.
    expected = {"alice@example.test": 1, "bob@example.test": 1, "security@example.test": 2}
    assert sorted(a for m in smtp_server.messages for a in m.rcpt_tos) == sorted(expected)
    for address, count in expected.items():
        (message,) = smtp_server.to(address)
        assert message.subject == "[keytrail] Access review “Q4 review”: items await your decision"
        text, html = message.part("text/plain"), message.part("text/html")
        assert f"{count} item{'s' if count > 1 else ''} in the access review" in text
        assert link in text
        assert f'href="{link.replace("&", "&amp;")}"' in html
    assert EmailNotification.objects.filter(sent_at__isnull=False).count() == 3


def test_the_same_occurrence_is_never_mailed_twice(people, inventory, smtp_server, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        campaign = _start(people, inventory)
    with django_capture_on_commit_callbacks(execute=True):
        again = notification_dispatch(event="review.assigned", object_id=campaign.pk, user_ids=[people["alice"].pk], tag="start")
        # Reassigned the same day: the webhook hears of it, the reviewer's inbox does not fill up.
        reassigned = notification_dispatch(event="review.assigned", object_id=campaign.pk, user_ids=[people["alice"].pk], tag="later")
    assert again.emails == [] and reassigned.emails == []
    assert len(smtp_server.to("alice@example.test")) == 1
    assert email_send(notification_id=EmailNotification.objects.get(recipient=people["alice"]).pk) is False  # a redelivered task


def test_hostile_names_are_escaped_in_html_and_kept_out_of_headers(people, inventory, smtp_server, django_capture_on_commit_callbacks):
    name = '<script>alert("x")</script>\r\nBcc: victim@example.test'
    with django_capture_on_commit_callbacks(execute=True):
        _start(people, inventory, name=name)
    assert smtp_server.messages
    for message in smtp_server.messages:
        assert message.rcpt_tos != ["victim@example.test"] and "victim@example.test" not in message.rcpt_tos
        assert "Bcc" not in message.message and "\n" not in message.subject
        html = message.part("text/html")
        assert "<script>" not in html and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
        assert '<script>alert("x")</script>' in message.part("text/plain")  # plain text is not HTML: shown as typed


def test_a_refusing_mail_server_is_recorded_and_the_mail_sent_on_retry(people, inventory, smtp_server, django_capture_on_commit_callbacks):
    smtp_server.refuse = 1
    with django_capture_on_commit_callbacks(execute=True):
        _start(people, inventory)
    # Eager execution: the first e-mail met the 451 and was left for the retry (a real worker
    # retries it with backoff: test_webhooks.py drives the same path with a worker).
    failed = EmailNotification.objects.get(sent_at__isnull=True)
    assert failed.attempts == 1 and "451" in failed.error
    assert email_send(notification_id=failed.pk) is True
    failed.refresh_from_db()
    assert failed.sent_at and failed.attempts == 2 and failed.error == ""
    assert len(smtp_server.messages) == 3 and smtp_server.refused == 1


@pytest.fixture
def approvers(db):
    return [
        make_user(Role.APPROVER, username="ann", email="ann@example.test"),
        make_user(Role.APPROVER, username="amir", email="amir@example.test"),
        make_user(Role.APPROVER, username="quiet", email=""),  # no address: nobody to mail
    ]


def test_exception_awaiting_approval_then_approved(people, approvers, smtp_server, django_capture_on_commit_callbacks):
    requester = make_user(Role.REVIEWER, username="req", email="req@example.test")
    owner = make_user(Role.APPROVER, username="own", email="own@example.test")  # an approver, but owns it: not asked
    exception = ExceptionRequestFactory(requester=requester, owner=owner, risk="high", required_approvals=2, title="Legacy <b>vendor</b>")
    with django_capture_on_commit_callbacks(execute=True):
        exceptions.exception_submit(actor=requester, exception=exception)
    link = f"{BASE}/exceptions/{exception.pk}/"
    asked = sorted(a for m in smtp_server.messages for a in m.rcpt_tos)
    assert asked == ["amir@example.test", "ann@example.test"]
    message = smtp_server.to("ann@example.test")[0]
    assert message.subject == f"[keytrail] {exception.ref} awaits your approval (high risk): Legacy <b>vendor</b>"
    assert link in message.part("text/plain") and "Legacy &lt;b&gt;vendor&lt;/b&gt;" in message.part("text/html")

    smtp_server.messages.clear()
    with django_capture_on_commit_callbacks(execute=True):
        exceptions.exception_approve(actor=approvers[0], exception=exception, comment="ok with the allow-list")
    # One approval of two: only the approver who has not decided is asked again.
    assert [m.rcpt_tos for m in smtp_server.messages] == [["amir@example.test"]]
    assert "It has 1 decision already and needs 2 approvals." in smtp_server.messages[0].part("text/plain")

    smtp_server.messages.clear()
    with django_capture_on_commit_callbacks(execute=True):
        exceptions.exception_approve(actor=approvers[1], exception=exception, comment="agreed")
    assert sorted(a for m in smtp_server.messages for a in m.rcpt_tos) == ["own@example.test", "req@example.test"]
    text = smtp_server.to("req@example.test")[0].part("text/plain")
    assert f'{exception.ref} "Legacy <b>vendor</b>" was approved by amir' in text and "Comment: agreed" in text and link in text


def test_exception_rejected(people, approvers, smtp_server, django_capture_on_commit_callbacks):
    requester = make_user(Role.REVIEWER, username="req", email="req@example.test")
    exception = ExceptionRequestFactory(requester=requester, owner=requester, state="pending", submitted_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        exceptions.exception_reject(actor=approvers[0], exception=exception, comment="fix the key instead")
    (message,) = smtp_server.messages
    assert message.rcpt_tos == ["req@example.test"] and message.subject == f"[keytrail] {exception.ref} was rejected"
    assert "Comment: fix the key instead" in message.part("text/plain")


def test_expiring_exception_reminders_link_to_it_once_per_mark(people, smtp_server, django_capture_on_commit_callbacks):
    owner = make_user(Role.GRC_LEAD, username="own", email="own@example.test")
    exception = ExceptionRequestFactory(
        requester=owner, owner=owner, state="approved", expires_on=timezone.now().date() + dt.timedelta(days=40)
    )
    expires = exception.expires_on
    for days in (30, 29, 7):
        with time_machine.travel(dt.datetime.combine(expires - dt.timedelta(days=days), dt.time(9), tzinfo=dt.UTC), tick=False):
            with django_capture_on_commit_callbacks(execute=True):
                exceptions.exception_send_reminders()
    subjects = [m.subject for m in smtp_server.messages]
    assert subjects == [f"[keytrail] {exception.ref} expires in 30 days", f"[keytrail] {exception.ref} expires in 7 days"]
    assert f"{BASE}/exceptions/{exception.pk}/" in smtp_server.messages[0].part("text/plain")


def test_review_reminders_due_soon_and_overdue_carry_the_link(people, inventory, smtp_server, django_capture_on_commit_callbacks):
    campaign = _start(people, inventory)  # no capture: the assignment e-mails are not this test's subject
    start = timezone.now()
    for days in (8, 8, 16, 16, 17):  # the 7-day mark (once), then overdue daily
        with time_machine.travel(start + dt.timedelta(days=days), tick=False):
            with django_capture_on_commit_callbacks(execute=True):
                reviews.reviews_send_reminders()
    alice = smtp_server.to("alice@example.test")
    assert [m.subject for m in alice] == [
        "[keytrail] Access review “Q4 review” is due in 6 days",
        "[keytrail] Access review “Q4 review” is overdue by 2 days",
        "[keytrail] Access review “Q4 review” is overdue by 3 days",
    ]
    assert all(f"{BASE}/reviews/{campaign.pk}/?reviewer=me&decision=undecided" in m.part("text/plain") for m in alice)
    assert "The campaign is overdue" in alice[1].part("text/plain")


def test_escalated_reminder_copies_the_fallback_and_the_grc_lead(people, inventory, smtp_server, django_capture_on_commit_callbacks):
    campaign = _start(people, inventory)
    with django_capture_on_commit_callbacks(execute=True):
        reviews.campaign_remind(actor=people["grc"], campaign=campaign, reviewer=people["alice"], escalate=True)
    assert sorted(a for m in smtp_server.messages for a in m.rcpt_tos) == [
        "alice@example.test",
        "grc@example.test",
        "security@example.test",
    ]


def test_reopened_remediation_tells_its_owner(people, inventory, smtp_server, django_capture_on_commit_callbacks):
    campaign = _start(people, inventory)
    item = campaign.items.get(credential=inventory["orphan"])
    reviews.items_decide(actor=people["fallback"], campaign=campaign, item_ids=[item.pk], decision="revoke", justification="unused")
    remediation = Remediation.objects.get(item=item)
    Remediation.objects.filter(pk=remediation.pk).update(state=Remediation.State.VERIFIED)  # an earlier collection verified it
    Credential.objects.filter(pk=inventory["orphan"].pk).update(enabled=True)
    run = CollectionRunFactory(started_at=timezone.now())
    unit = CollectionUnitFactory(run=run, source=inventory["source"], scope="aws_iam", status="succeeded")
    SnapshotFactory(unit=unit, source=inventory["source"], scope="aws_iam", taken_at=timezone.now() + dt.timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert remediation_verify(run_id=run.pk) == {"reopened": 1}
    # The owner (the fallback reviewer, who decided it) and the campaign's GRC lead.
    assert sorted(a for m in smtp_server.messages for a in m.rcpt_tos) == ["grc@example.test", "security@example.test"]
    (message,) = smtp_server.to("security@example.test")
    assert message.subject == "[keytrail] Remediation reopened: revoke legacy / IAM access key AKIAORPHAN"
    text = message.part("text/plain")
    assert "credential present and enabled again" in text and f"{BASE}/reviews/{campaign.pk}/#remediation" in text
