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
