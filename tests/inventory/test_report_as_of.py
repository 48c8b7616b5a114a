"""The credential report's generation time as the as-of of report-derived facts (issue #16):
kept on the credential without making it look changed, shown on the credential page, and
carried in the pack's credential rows."""

import datetime as dt

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from apps.connectors.base import CollectionResult, CredentialRecord, IdentityRecord, Target
from apps.inventory.as_of import credentials_as_of, identities_as_of
from apps.inventory.models import Credential, CredentialEvent, CredentialVersion
from apps.inventory.services.apply import inventory_apply
from tests.factories import CollectionRunFactory, CollectionUnitFactory

pytestmark = pytest.mark.django_db

USER = "arn:aws:iam::123456789012:user/alice"
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
REPORT_1, REPORT_2 = "2026-11-02T08:00:00+00:00", "2026-11-02T12:05:00+00:00"


def _key(report_generated_at, key_id="AKIAREPORTED1", source="credential_report", used=T0):
    return CredentialRecord(
        key_id,
        "access_key",
        f"alice access key ({key_id})",
        identity_external_id=USER,
        enabled=True,
        created_at=T0,
        last_rotated_at=T0,
        last_used_at=used,
        attributes={"last_used_source": source, "report_generated_at": report_generated_at, "last_used_status": "used"},
    )


def _apply(source, creds, at=None):
    run = CollectionRunFactory(status="pending", started_at=None, finished_at=None)
    unit = CollectionUnitFactory(run=run, source=source, connector="aws_iam", scope="aws_iam")
    result = CollectionResult(
        target=Target(kind="aws_iam", source_key="123456789012"),
        identities=[IdentityRecord(USER, "alice", "human")],
        credentials=creds,
    )
    with transaction.atomic():
        return inventory_apply(unit=unit, result=result, taken_at=at or timezone.now())


def test_a_newer_report_with_the_same_facts_is_not_a_change(aws_source):
    first, _ = _apply(aws_source, [_key(REPORT_1)])
    second, counts = _apply(aws_source, [_key(REPORT_2)])
    assert counts.unchanged == 1 and counts.changed == 0
    assert CredentialVersion.objects.count() == 1 and CredentialEvent.objects.count() == 1
    assert first.content_sha256 == second.content_sha256
    # The stored as-of is the report the facts were read from: never fresher than the truth.
    assert Credential.objects.get().attributes["report_generated_at"] == REPORT_1
    # A real change (a new last use) carries the newer report's time.
    _, counts = _apply(aws_source, [_key(REPORT_2, used=T0 + dt.timedelta(days=3))])
    assert counts.changed == 1 and Credential.objects.get().attributes["report_generated_at"] == REPORT_2


def test_credential_page_shows_the_as_of_next_to_last_used(client, grc_lead, aws_source):
    _apply(aws_source, [_key(REPORT_1), _key(None, key_id="AKIANEWKEY", source="GetAccessKeyLastUsed", used=None)])
    client.force_login(grc_lead)
    reported = Credential.objects.get(external_id="AKIAREPORTED1")
    page = client.get(reverse("inventory:credential_detail", args=[reported.pk])).content.decode()
    assert "as of the credential report generated 2026-11-02 08:00 UTC" in page
    fresh = Credential.objects.get(external_id="AKIANEWKEY")
    page = client.get(reverse("inventory:credential_detail", args=[fresh.pk])).content.decode()
    assert "from GetAccessKeyLastUsed at collection" in page and "as of the credential report" not in page


def test_pack_rows_carry_the_last_use_source_and_as_of(aws_source):
    at = timezone.now()
    _apply(aws_source, [_key(REPORT_1), _key(None, key_id="AKIANEWKEY", source="GetAccessKeyLastUsed", used=None)], at=at)
    later = at + dt.timedelta(seconds=1)
    identities = identities_as_of(source_ids=[aws_source.pk], as_of=later)
    rows = {c["external_id"]: c for c in credentials_as_of(source_ids=[aws_source.pk], as_of=later, identities=identities)}
    assert rows["AKIAREPORTED1"]["last_used_source"] == "credential_report"
    assert rows["AKIAREPORTED1"]["last_used_as_of"] == "2026-11-02T08:00:00Z"
    assert rows["AKIANEWKEY"]["last_used_source"] == "GetAccessKeyLastUsed" and rows["AKIANEWKEY"]["last_used_as_of"] is None
