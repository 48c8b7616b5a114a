"""Outbound webhooks against a real local HTTP receiver (tests/support/webhooks.py): registered
endpoints, signed JSON, retries with backoff, the delivery log, SSRF refusals."""

import json
import time

import pytest
from django.utils import timezone

from apps.accounts.roles import Role
from apps.audit.models import AuditEvent
from apps.core.errors import IllegalTransition, PermissionRefused, ValidationFailed
from apps.devtools.simulators.key_vault import certificate_paths
from apps.exceptions_register import services as exceptions
from apps.notifications import services, signing
from apps.notifications.models import WebhookDelivery, WebhookEndpoint
from apps.reviews import services as reviews
from tests.factories import CampaignFactory, CredentialFactory, ExceptionRequestFactory, SourceFactory, make_user
from tests.support.webhooks import start_receiver, webhook_receiver  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db


@pytest.fixture
def grc(db):
    return make_user(Role.GRC_LEAD, username="grc", email="grc@example.test")


@pytest.fixture
def approver(db):
    return make_user(Role.APPROVER, username="ann", email="ann@example.test")


def _pending_exception():
    requester = make_user(Role.REVIEWER, username="req", email="req@example.test")
    return ExceptionRequestFactory(requester=requester, owner=requester, state="pending", submitted_at=timezone.now(), title="Vendor key")


def test_the_secret_is_shown_once_stored_encrypted_and_never_audited(grc):
    issued = services.endpoint_create(actor=grc, name="SecOps chat", url="https://8.8.8.8/hook", events=["exception.approved"])
    endpoint = WebhookEndpoint.objects.get()
    assert issued.secret.startswith("whsec_") and len(issued.secret) > 40
    assert issued.secret not in endpoint.secret_encrypted and signing.decrypt(endpoint.secret_encrypted) == issued.secret
    assert endpoint.secret_hint == issued.secret[:10]
    event = AuditEvent.objects.get(event_type="webhook_endpoint.created")
    assert issued.secret not in json.dumps(event.changes) and event.changes["url"] == [None, "https://8.8.8.8/hook"]

    rotated = services.endpoint_rotate_secret(actor=grc, endpoint=endpoint)
    assert rotated.secret != issued.secret and signing.decrypt(WebhookEndpoint.objects.get().secret_encrypted) == rotated.secret
    assert AuditEvent.objects.filter(event_type="webhook_endpoint.secret_rotated").count() == 1

    services.endpoint_update(actor=grc, endpoint=endpoint, active=False, events=["exception.approved", "exception.rejected"])
    update = AuditEvent.objects.get(event_type="webhook_endpoint.updated")
    assert update.changes == {"active": [True, False], "events": [["exception.approved"], ["exception.approved", "exception.rejected"]]}
    with pytest.raises(IllegalTransition):
        services.endpoint_rotate_secret(actor=grc, endpoint=endpoint)


def test_only_holders_of_manage_may_register(approver):
    with pytest.raises(PermissionRefused):
        services.endpoint_create(actor=approver, name="x", url="https://8.8.8.8/", events=["exception.approved"])
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    "url, reason",
    [
        ("ftp://8.8.8.8/hook", "only http:// and https://"),
        ("file:///etc/passwd", "only http:// and https://"),
        ("https://user:pw@8.8.8.8/", "passwords in the address"),  # pragma: allowlist secret (a made-up user:password, refused)
        ("http://127.0.0.1:8000/", "127.0.0.1"),
        ("http://localhost/", "loopback"),
        ("http://10.1.2.3/", "10.1.2.3"),
        ("http://192.168.0.10/", "192.168.0.10"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),  # the cloud metadata service
        ("http://[::1]/", "::1"),
        ("http://[fd00::1]/", "fd00::1"),
        ("http://0.0.0.0/", "0.0.0.0"),
        ("https://8.8.8.8:99999/", "port"),
        ("https:///path-only", "no host"),
    ],
)
def test_private_and_odd_addresses_are_refused(grc, settings, url, reason):
    settings.KEYTRAIL_WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    with pytest.raises(ValidationFailed, match=reason.replace(".", r"\.").replace("/", "/")):
        services.endpoint_create(actor=grc, name="x", url=url, events=["exception.approved"])
    assert not WebhookEndpoint.objects.exists()


def test_unknown_or_no_events_are_refused(grc):
    with pytest.raises(ValidationFailed, match="unknown pack.built"):
        services.endpoint_create(actor=grc, name="x", url="https://8.8.8.8/", events=["pack.built"])
    with pytest.raises(ValidationFailed, match="at least one"):
        services.endpoint_create(actor=grc, name="x", url="https://8.8.8.8/", events=[])


def test_a_decision_is_posted_signed_to_each_subscribed_endpoint(grc, approver, webhook_receiver, django_capture_on_commit_callbacks):
    issued = services.endpoint_create(actor=grc, name="chat", url=webhook_receiver.url, events=["exception.approved"])
    services.endpoint_create(actor=grc, name="tickets", url=webhook_receiver.url, events=["exception.rejected"])  # not this event
    exception = _pending_exception()
    with django_capture_on_commit_callbacks(execute=True):
        exceptions.exception_approve(actor=approver, exception=exception, comment="fine")
    (request,) = webhook_receiver.requests
    assert request.path == "/hooks/keytrail?team=sec"
    assert request.headers["content-type"] == "application/json" and request.headers["x-keytrail-event"] == "exception.approved"
    assert signing.verify(issued.secret, request.headers["x-keytrail-signature"], request.body, now=int(time.time()))
    assert not signing.verify("whsec_wrong", request.headers["x-keytrail-signature"], request.body, now=int(time.time()))
    assert not signing.verify(issued.secret, request.headers["x-keytrail-signature"], request.body + b" ", now=int(time.time()))
    body = json.loads(request.body)
    assert body["event"] == "exception.approved" and body["id"] == request.headers["x-keytrail-delivery"]
    assert body["url"].endswith(f"/exceptions/{exception.pk}/")
    assert body["data"]["exception"] == {
        "id": exception.pk,
        "ref": exception.ref,
        "title": "Vendor key",
        "risk": "low",
        "state": "approved",
        "rule_ids": ["iam-key-rotation-age"],
        "expires_on": exception.expires_on.isoformat(),
        "requester": "req",
        "owner": "req",
    }
    assert body["data"]["decided_by"] == "ann"
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == "succeeded" and delivery.attempts == 1 and delivery.response_status == 200 and delivery.delivered_at


def test_failures_are_retried_with_backoff_then_given_up(grc, approver, webhook_receiver, settings, django_capture_on_commit_callbacks):
    settings.KEYTRAIL_WEBHOOK_MAX_ATTEMPTS = 3
    webhook_receiver.statuses = [500, 503, 502]
    services.endpoint_create(actor=grc, name="chat", url=webhook_receiver.url, events=["exception.approved"])
    with django_capture_on_commit_callbacks(execute=True):
        exceptions.exception_approve(actor=approver, exception=_pending_exception(), comment="fine")
    delivery = WebhookDelivery.objects.get()
    # Eager execution made the first attempt; the retries are the worker's (test_worker_retries_…);
    # here each attempt is driven by hand.
    assert delivery.state == "retrying" and delivery.attempts == 1 and delivery.response_status == 500
    assert "HTTP 500: receiver says no" in delivery.error and delivery.next_attempt_at > timezone.now()
    assert services.webhook_attempt(delivery_id=delivery.pk).state == "retrying"
    last = services.webhook_attempt(delivery_id=delivery.pk)
    assert last.state == "failed" and last.retry_in is None
    delivery.refresh_from_db()
    assert delivery.attempts == 3 and delivery.response_status == 502 and delivery.next_attempt_at is None
    assert services.webhook_attempt(delivery_id=delivery.pk).state == "failed"  # a finished delivery is left alone
    assert len(webhook_receiver.requests) == 3
    assert len({r.headers["x-keytrail-delivery"] for r in webhook_receiver.requests}) == 1  # one event id: receivers dedupe


def test_backoff_doubles_and_is_capped(settings):
    settings.KEYTRAIL_WEBHOOK_BACKOFF_SECONDS, settings.KEYTRAIL_WEBHOOK_BACKOFF_MAX_SECONDS = 30, 600
    delays = [services.backoff_seconds(n) for n in range(1, 8)]
    for delay, base in zip(delays, [30, 60, 120, 240, 480, 600, 600], strict=True):
        assert base <= delay <= base * 1.1


def test_a_receiver_that_went_private_is_refused_at_delivery(grc, approver, webhook_receiver, settings, django_capture_on_commit_callbacks):
    services.endpoint_create(actor=grc, name="chat", url=webhook_receiver.url, events=["exception.approved"])
    settings.KEYTRAIL_WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False  # as if its name now resolved inside
    with django_capture_on_commit_callbacks(execute=True):
        exceptions.exception_approve(actor=approver, exception=_pending_exception(), comment="fine")
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == "retrying" and "127.0.0.1" in delivery.error and delivery.response_status is None
    assert webhook_receiver.requests == []


def test_redirects_are_not_followed(grc, approver, webhook_receiver, django_capture_on_commit_callbacks):
    webhook_receiver.statuses = [302]
    services.endpoint_create(actor=grc, name="chat", url=webhook_receiver.url, events=["exception.approved"])
    with django_capture_on_commit_callbacks(execute=True):
        exceptions.exception_approve(actor=approver, exception=_pending_exception(), comment="fine")
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == "retrying" and delivery.response_status == 302 and len(webhook_receiver.requests) == 1


def test_a_deactivated_endpoint_gets_nothing_more(grc, approver, webhook_receiver, django_capture_on_commit_callbacks):
    webhook_receiver.statuses = [500]
    endpoint = services.endpoint_create(actor=grc, name="chat", url=webhook_receiver.url, events=["exception.approved"]).endpoint
    with django_capture_on_commit_callbacks(execute=True):
        exceptions.exception_approve(actor=approver, exception=_pending_exception(), comment="fine")
    services.endpoint_update(actor=grc, endpoint=endpoint, active=False)
    delivery = WebhookDelivery.objects.get()
    assert services.webhook_attempt(delivery_id=delivery.pk).state == "failed"
    delivery.refresh_from_db()
    assert delivery.error == "the endpoint was deactivated" and len(webhook_receiver.requests) == 1


def test_overdue_retries_are_found_by_the_sweep(grc, approver, webhook_receiver, django_capture_on_commit_callbacks):
    webhook_receiver.statuses = [500]
    services.endpoint_create(actor=grc, name="chat", url=webhook_receiver.url, events=["exception.approved"])
    with django_capture_on_commit_callbacks(execute=True):
        exceptions.exception_approve(actor=approver, exception=_pending_exception(), comment="fine")
    delivery = WebhookDelivery.objects.get()
    assert services.webhook_retry_overdue() == []  # its retry is not due yet
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - timezone.timedelta(minutes=10))
    assert services.webhook_retry_overdue() == [delivery.pk]


def test_a_campaign_start_tells_the_webhook_who_has_how_many_items(grc, webhook_receiver, django_capture_on_commit_callbacks):
    services.endpoint_create(actor=grc, name="chat", url=webhook_receiver.url, events=["review.assigned"])
    source = SourceFactory(created_by=grc)
    for name in ("AKIA1", "AKIA2"):
        CredentialFactory(source=source, name=name, owner="", enabled=True)
    fallback = make_user(Role.REVIEWER, username="fallback", email="")  # no address: no e-mail, still named in the webhook
    draft = CampaignFactory(created_by=grc, fallback_reviewer=fallback, name="Keys", scope={"source_ids": [source.pk]})
    with django_capture_on_commit_callbacks(execute=True):
        campaign = reviews.campaign_start(actor=grc, campaign=draft)
    (request,) = webhook_receiver.requests
    body = json.loads(request.body)
    assert body["event"] == "review.assigned" and body["data"]["campaign"]["id"] == campaign.pk
    assert body["data"]["reviewers"] == [{"username": "fallback", "undecided": 2}]


def test_https_receivers_are_verified_against_the_host_name(grc, approver, settings, django_capture_on_commit_callbacks):
    receiver, server = start_receiver(tls=True)  # https://localhost:<port>/, a self-signed certificate
    try:
        services.endpoint_create(actor=grc, name="chat", url=receiver.url, events=["exception.approved", "exception.rejected"])
        with django_capture_on_commit_callbacks(execute=True):  # the certificate is not trusted yet
            exceptions.exception_approve(actor=approver, exception=_pending_exception(), comment="fine")
        untrusted = WebhookDelivery.objects.get()
        assert untrusted.state == "retrying" and "CERTIFICATE_VERIFY_FAILED" in untrusted.error and receiver.requests == []

        settings.KEYTRAIL_WEBHOOK_CA_BUNDLE = certificate_paths()[0]
        assert services.webhook_attempt(delivery_id=untrusted.pk).state == "succeeded"
        (request,) = receiver.requests
        assert request.headers["host"] == f"localhost:{server.server_address[1]}"  # pinned to an address, named by host
    finally:
        server.shutdown()
        server.server_close()
