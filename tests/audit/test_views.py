import pytest
from django.db import transaction
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.audit.services import audit_record

pytestmark = pytest.mark.django_db


def test_grc_lead_sees_the_trail_and_can_verify_it(client, grc_lead):
    with transaction.atomic():
        audit_record(event_type="test.event", target=("t.x", "1", "<script>alert(1)</script>"))
    client.force_login(grc_lead)
    page = client.get(reverse("audit:list"))
    assert page.status_code == 200
    body = page.content.decode()
    assert "test.event" in body and "<script>alert(1)</script>" not in body and "&lt;script&gt;" in body
    result = client.post(reverse("audit:verify"))
    assert "Chain intact" in result.content.decode()


def test_the_request_origin_is_recorded(client, grc_lead, catalog):
    client.force_login(grc_lead)
    client.post(
        reverse("controls:create"),
        {
            "title": "T",
            "requirements": [catalog[0].pk],
            "owner": grc_lead.pk,
            "narrative": "n",
            "implementation_status": "planned",
            "test_frequency": "annual",
            "rule_ids": "",
        },
        HTTP_USER_AGENT="pytest-agent",
        REMOTE_ADDR="127.0.0.9",
    )
    event = AuditEvent.objects.get(event_type="control.created")
    assert event.ip_address == "127.0.0.9" and event.user_agent == "pytest-agent" and event.origin == "web"
    assert event.actor == grc_lead and len(event.request_id) == 32


@pytest.mark.parametrize(
    ("header", "kept"),
    [
        ("forged-req-0001", False),
        ("0123456789abcdef0123456789abcdef", True),  # pragma: allowlist secret
        ("0123456789ABCDEF0123456789ABCDEF", True),  # kept, lower-cased  # pragma: allowlist secret
        ("3f2504e0-4f89-11d3-9a0c-0305e82c3301", True),
        ("0123456789abcdef0123456789abcdef\n<script>", False),
        ("x" * 64, False),
        ("", False),
    ],
)
def test_a_client_request_id_is_kept_only_in_the_strict_format(client, grc_lead, catalog, header, kept):
    """Issue #19 item 11: X-Request-ID was stored as sent (``forged-req-0001``)."""
    client.force_login(grc_lead)
    client.post(
        reverse("controls:create"),
        {
            "title": "T",
            "requirements": [catalog[0].pk],
            "owner": grc_lead.pk,
            "narrative": "n",
            "implementation_status": "planned",
            "test_frequency": "annual",
            "rule_ids": "",
        },
        HTTP_X_REQUEST_ID=header,
        HTTP_USER_AGENT="agent\x00\x1b[31m " + "A" * 1000,
    )
    event = AuditEvent.objects.get(event_type="control.created")
    assert (event.request_id == header.lower()) is kept
    assert len(event.request_id) in (32, 36) and "forged" not in event.request_id
    assert event.user_agent.startswith("agent??[31m A") and len(event.user_agent) == 300
