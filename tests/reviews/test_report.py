"""The evidence-pack contract: JSON-ready, only what was true at ``as_of``."""

import datetime as dt
import json

import pytest
import time_machine
from django.utils import timezone

from apps.reviews import services
from apps.reviews.selectors import campaigns_for_pack, decisions_for_credentials

pytestmark = pytest.mark.django_db


def test_campaigns_as_of(campaign, people, inventory):
    started = campaign.started_at
    svc = campaign.items.get(credential=inventory["svc_key"])
    with time_machine.travel(started + dt.timedelta(days=2)):
        services.items_decide(
            actor=people["alice"], campaign=campaign, item_ids=[svc.pk], decision="revoke", justification="unused 200 days"
        )
    with time_machine.travel(started + dt.timedelta(days=20)):
        services.campaign_sign_off(actor=people["grc"], campaign=campaign)

    assert campaigns_for_pack(as_of=started - dt.timedelta(seconds=1)) == []
    early = campaigns_for_pack(as_of=started + dt.timedelta(days=1))[0]
    json.dumps(early)  # JSON-ready: no model objects, datetimes as strings
    assert early["state"] == "active" and early["signed_off_at"] is None
    assert early["population_count"] == 4 and early["population_hash"] == campaign.population_hash
    assert all(i["decision"] is None for i in early["items"]) and early["remediation"] == []

    mid = campaigns_for_pack(as_of=started + dt.timedelta(days=3))[0]
    decided = next(i for i in mid["items"] if i["id"] == svc.pk)
    assert decided["decision"] == "revoke" and decided["decided_by"] == "alice" and decided["justification"] == "unused 200 days"
    assert decided["subject"].startswith("svc-batch / ") and decided["facts"]["credential"]["name"] == "AKIASVC"
    assert [r["state"] for r in mid["remediation"]] == ["open"] and mid["remediation"][0]["action"] == "revoke"

    final = campaigns_for_pack(as_of=started + dt.timedelta(days=21))[0]
    assert final["state"] == "signed_off" and final["signed_off_by"] == "grc-lead"
    assert sum(1 for i in final["items"] if i["flagged"]) == 3

    other = campaigns_for_pack(as_of=timezone.now() + dt.timedelta(days=30), source_ids=[inventory["source"].pk + 99])[0]
    assert other["items"] == [] and other["remediation"] == []

    history = decisions_for_credentials([inventory["svc_key"].pk, inventory["secret"].pk], as_of=started + dt.timedelta(days=3))
    assert list(history) == [inventory["svc_key"].pk] and history[inventory["svc_key"].pk][0]["remediation"]["state"] == "open"


def test_the_report_matches_the_evidence_pack_schema(campaign, people, inventory):
    """What the reviews app hands the pack validates against the pack's published schema."""
    from pathlib import Path

    import jsonschema

    from apps.evidence.builder import SCHEMA_FILE

    schema = json.loads(Path(SCHEMA_FILE).read_text())
    svc = campaign.items.get(credential=inventory["svc_key"])
    services.items_decide(actor=people["alice"], campaign=campaign, item_ids=[svc.pk], decision="revoke", justification="unused")
    now = timezone.now() + dt.timedelta(seconds=1)

    def check(value, definition):
        jsonschema.validate(value, {"$defs": schema["$defs"], "$ref": f"#/$defs/{definition}"}, format_checker=jsonschema.FormatChecker())

    for c in campaigns_for_pack(as_of=now):
        check(c, "campaign")
    decisions = decisions_for_credentials([inventory["svc_key"].pk], as_of=now)[inventory["svc_key"].pk]
    assert decisions and decisions[0]["remediation"]["state"] == "open"
    for d in decisions:
        check(d, "review_decision")
