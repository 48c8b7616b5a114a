"""The GRC lead's webhook pages: register (the secret shown once), the delivery log, change,
rotate; everyone else is refused."""

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.accounts.roles import Role
from apps.audit.models import AuditEvent
from apps.notifications import signing
from apps.notifications.models import WebhookDelivery, WebhookEndpoint
from tests.factories import make_user
from tests.support.hostile import assert_escaped_html

pytestmark = pytest.mark.django_db
HOSTILE = '<img src=x onerror="alert(1)">'


@pytest.fixture
def grc(db):
    return make_user(Role.GRC_LEAD, username="grc")


def _register(client, **data):
    payload = {"name": "SecOps chat", "url": "https://8.8.8.8/hooks", "events": ["exception.approved", "review.overdue"], **data}
    return client.post(reverse("notifications:endpoint_list"), payload)


def test_register_shows_the_secret_once(client, grc):
    client.force_login(grc)
    response = _register(client, name=HOSTILE)
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    endpoint = WebhookEndpoint.objects.get()
    secret = signing.decrypt(endpoint.secret_encrypted)
    assert secret in response.content.decode()
    assert_escaped_html(response, [HOSTILE])
    for page in (reverse("notifications:endpoint_list"), reverse("notifications:endpoint_detail", args=[endpoint.pk])):
        again = client.get(page)
        assert again.status_code == 200 and secret not in again.content.decode() and endpoint.secret_hint in again.content.decode()
        assert_escaped_html(again, [HOSTILE])


def test_a_refused_address_is_explained_and_nothing_is_registered(client, grc, settings):
    settings.KEYTRAIL_WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    client.force_login(grc)
    response = _register(client, url="http://169.254.169.254/latest/meta-data/")
    assert response.status_code == 200 and "keytrail posts only to public addresses" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_the_delivery_log_filters_by_outcome(client, grc):
    client.force_login(grc)
    _register(client)
    endpoint = WebhookEndpoint.objects.get()
    now = timezone.now()
    for i, (state, error) in enumerate([("succeeded", ""), ("failed", "HTTP 500: <b>boom</b>")]):
        WebhookDelivery.objects.create(
            endpoint=endpoint,
            event="exception.approved",
            event_id=f"00000000-0000-0000-0000-00000000000{i}",
            payload={},
            state=state,
            attempts=1 if state == "succeeded" else 8,
            error=error,
            created_at=now,
        )
    url = reverse("notifications:endpoint_detail", args=[endpoint.pk])
    page = client.get(url, {"state": "failed"}).content.decode()
    assert "HTTP 500: &lt;b&gt;boom&lt;/b&gt;" in page and "00000000-0000-0000-0000-000000000000" not in page
    assert "00000000-0000-0000-0000-000000000000" in client.get(url).content.decode()


def test_change_and_rotate_are_audited(client, grc):
    client.force_login(grc)
    _register(client)
    endpoint = WebhookEndpoint.objects.get()
    old = signing.decrypt(endpoint.secret_encrypted)
    response = client.post(
        reverse("notifications:endpoint_edit", args=[endpoint.pk]),
        {"name": "SecOps", "url": endpoint.url, "events": ["exception.expiring"], "active": ""},
    )
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.name == "SecOps" and endpoint.events == ["exception.expiring"] and endpoint.active is False
    assert client.post(reverse("notifications:endpoint_rotate", args=[endpoint.pk])).status_code == 302  # inactive: refused, said so
    client.post(
        reverse("notifications:endpoint_edit", args=[endpoint.pk]),
        {"name": "SecOps", "url": endpoint.url, "events": ["exception.expiring"], "active": "on"},
    )
    response = client.post(reverse("notifications:endpoint_rotate", args=[endpoint.pk]))
    new = signing.decrypt(WebhookEndpoint.objects.get().secret_encrypted)
    assert new != old and new in response.content.decode() and response["Cache-Control"] == "no-store"
    assert list(
        AuditEvent.objects.filter(event_type__startswith="webhook_endpoint.").order_by("seq").values_list("event_type", flat=True)
    ) == [
        "webhook_endpoint.created",
        "webhook_endpoint.updated",
        "webhook_endpoint.updated",
        "webhook_endpoint.secret_rotated",
    ]


def test_an_approver_may_not_register(client):
    client.force_login(make_user(Role.APPROVER, username="ann"))
    assert _register(client).status_code == 403
    assert not WebhookEndpoint.objects.exists()
