"""Webhook endpoints through the API: the secret answered once, the delivery log, refusals
with their reasons (the same services as the pages: tests/notifications)."""

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.notifications import signing
from apps.notifications.models import WebhookDelivery, WebhookEndpoint
from tests.support.clients import api_as  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db


def test_register_list_change_rotate_and_read_the_log(api_as, grc_lead):
    client = api_as(grc_lead)
    created = client.post(
        reverse("api:webhook-list"),
        {"name": "chat", "url": "https://8.8.8.8/hook", "events": ["exception.approved", "review.assigned"]},
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    endpoint = WebhookEndpoint.objects.get()
    assert body["secret"] == signing.decrypt(endpoint.secret_encrypted) and created["Cache-Control"] == "no-store"
    assert body["events"] == ["review.assigned", "exception.approved"]  # in the catalog's order
    assert AuditEvent.objects.get(event_type="webhook_endpoint.created").origin == "api"
    listed = client.get(reverse("api:webhook-list")).json()["results"]
    assert [e["id"] for e in listed] == [endpoint.pk] and "secret" not in listed[0]
    assert "secret" not in client.get(reverse("api:webhook-detail", args=[endpoint.pk])).json()

    changed = client.patch(reverse("api:webhook-detail", args=[endpoint.pk]), {"active": False}, format="json")
    assert changed.status_code == 200 and changed.json()["active"] is False
    refused = client.post(reverse("api:webhook-rotate-secret", args=[endpoint.pk]), format="json")
    assert refused.status_code == 409
    client.patch(reverse("api:webhook-detail", args=[endpoint.pk]), {"active": True}, format="json")
    rotated = client.post(reverse("api:webhook-rotate-secret", args=[endpoint.pk]), format="json").json()
    assert rotated["secret"] != body["secret"] and rotated["secret"] == signing.decrypt(WebhookEndpoint.objects.get().secret_encrypted)

    WebhookDelivery.objects.create(
        endpoint=endpoint,
        event="exception.approved",
        event_id="00000000-0000-0000-0000-000000000001",
        payload={"event": "exception.approved"},
        state="failed",
        attempts=8,
        error="HTTP 500",
        created_at=timezone.now(),
    )
    log = client.get(reverse("api:webhook-deliveries", args=[endpoint.pk]), {"state": "failed"}).json()["results"]
    assert [(d["event"], d["attempts"], d["error"]) for d in log] == [("exception.approved", 8, "HTTP 500")]
    assert client.get(reverse("api:webhook-deliveries", args=[endpoint.pk]), {"state": "succeeded"}).json()["results"] == []


def test_private_addresses_and_unknown_events_are_refused_with_the_reason(api_as, grc_lead, settings):
    settings.KEYTRAIL_WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    client = api_as(grc_lead)
    private = client.post(
        reverse("api:webhook-list"), {"name": "x", "url": "http://169.254.169.254/", "events": ["exception.approved"]}, format="json"
    )
    assert private.status_code == 400 and "public addresses" in private.json()["detail"]
    unknown = client.post(reverse("api:webhook-list"), {"name": "x", "url": "https://8.8.8.8/", "events": ["pack.built"]}, format="json")
    assert unknown.status_code == 400 and "events" in unknown.json()
    assert not WebhookEndpoint.objects.exists()


def test_an_approver_sees_no_endpoint(api_as, approver, grc_lead):
    api_as(grc_lead).post(
        reverse("api:webhook-list"), {"name": "x", "url": "https://8.8.8.8/", "events": ["exception.approved"]}, format="json"
    )
    client = api_as(approver)
    assert client.get(reverse("api:webhook-list")).status_code == 403
    assert client.get(reverse("api:webhook-detail", args=[WebhookEndpoint.objects.get().pk])).status_code == 404
