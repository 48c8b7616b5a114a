"""Every list page exports exactly what its filters show, as CSV and XLSX, behind the page's
own permission checks: inventory (credentials, identities), exceptions, a campaign's review
items and remediation, and the audit trail (the findings: tests/evaluation/test_finding_queue.py)."""

import csv
import io

import openpyxl
import pytest
from django.urls import reverse

from apps.reviews.services import items_decide
from tests.factories import ExceptionRequestFactory
from tests.support.reviews import campaign, inventory, people  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


def _csv(response) -> list[dict]:
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()[1:])))


def _xlsx(response) -> list[tuple]:
    assert response.status_code == 200
    ws = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    return list(ws.iter_rows(values_only=True))


def test_credentials_and_identities_export_their_filtered_rows(client, people, inventory):
    inventory["orphan"].name = "=cmd|' /C calc'!A0"
    inventory["orphan"].save(update_fields=["name"])
    client.force_login(people["grc"])
    url = reverse("inventory:credential_list")
    rows = _csv(client.get(url, {"export": "csv"}))
    assert sorted(r["Name"] for r in rows) == sorted(["AKIAALICE", "AKIASVC", "db-password", "'=cmd|' /C calc'!A0"])
    rows = _csv(client.get(url, {"export": "csv", "credential_type": "access_key", "owner": "missing"}))
    assert sorted(r["Name"] for r in rows) == sorted(["AKIASVC", "'=cmd|' /C calc'!A0"])
    sheet = _xlsx(client.get(url, {"export": "xlsx", "q": "calc"}))
    assert len(sheet) == 2 and sheet[1][3] == "=cmd|' /C calc'!A0"
    assert "export=xlsx" in client.get(url, {"q": "calc"}).content.decode()

    rows = _csv(client.get(reverse("inventory:identity_list"), {"export": "csv", "kind": "service"}))
    assert sorted((r["Name"], r["Present credentials"]) for r in rows) == [("legacy", "1"), ("svc-batch", "1")]


def test_an_inventory_export_shows_only_the_sources_one_may_view(client, people, inventory):
    client.force_login(people["alice"])  # a reviewer sees no source
    assert _csv(client.get(reverse("inventory:credential_list"), {"export": "csv"})) == []


def test_the_exception_register_exports_its_filtered_rows(client, approver, grc_lead):
    ExceptionRequestFactory(title="+SUM(1)", risk="high", state="pending", owner=grc_lead)
    ExceptionRequestFactory(title="low one", risk="low", state="approved", owner=grc_lead)
    client.force_login(approver)
    rows = _csv(client.get(reverse("exceptions:list"), {"export": "csv", "risk": "high"}))
    assert [(r["Title"], r["Risk"], r["State"], r["Rules"]) for r in rows] == [
        ("'+SUM(1)", "high", "Pending approval", "iam-key-rotation-age")
    ]
    sheet = _xlsx(client.get(reverse("exceptions:list"), {"export": "xlsx"}))
    assert sorted(r[1] for r in sheet[1:]) == ["+SUM(1)", "low one"]


def test_the_exception_export_is_narrowed_like_the_register(client, reviewer, grc_lead):
    ExceptionRequestFactory(title="not theirs", owner=grc_lead)
    client.force_login(reviewer)
    assert _csv(client.get(reverse("exceptions:list"), {"export": "csv"})) == []


def test_a_campaign_exports_items_and_remediation(client, people, campaign):
    items = {i.subject: i for i in campaign.items.all()}
    alice_items = [i for i in items.values() if i.reviewer == people["alice"]]
    items_decide(actor=people["alice"], campaign=campaign, item_ids=[alice_items[0].pk], decision="revoke", justification="gone")
    url = reverse("reviews:detail", args=[campaign.pk])

    client.force_login(people["grc"])
    rows = _csv(client.get(url, {"export": "csv"}))
    assert len(rows) == campaign.items.count()
    rows = _csv(client.get(url, {"export": "csv", "decision": "revoke"}))
    assert [(r["Decision"], r["Justification"], r["Decided by"]) for r in rows] == [("Revoke", "gone", "alice")]
    remediation = _csv(client.get(url, {"export": "csv", "list": "remediation"}))
    assert [(r["Action"], r["Owner"], r["State"]) for r in remediation] == [("revoke", "alice", "Open")]
    assert _xlsx(client.get(url, {"export": "xlsx", "list": "remediation"}))[1][2] == "revoke"

    client.force_login(people["alice"])  # a reviewer exports only their own items, and no remediation list
    assert {r["Reviewer"] for r in _csv(client.get(url, {"export": "csv"}))} == {"alice"}
    assert client.get(url, {"export": "csv", "list": "remediation"}).status_code == 403

    client.force_login(people["auditor"])  # not shared with her: the campaign is hidden
    assert client.get(url, {"export": "csv"}).status_code == 404


def test_the_audit_trail_exports_its_filtered_events(client, people, campaign):
    client.force_login(people["grc"])
    rows = _csv(client.get(reverse("audit:list"), {"export": "csv", "event_type": "campaign.started"}))
    assert len(rows) == 1 and rows[0]["Event"] == "campaign.started" and rows[0]["Hash"]
    sheet = _xlsx(client.get(reverse("audit:list"), {"export": "xlsx"}))
    assert len(sheet) > 2 and sheet[0][0] == "Seq"
    client.force_login(people["alice"])
    assert client.get(reverse("audit:list"), {"export": "csv"}).status_code == 403
