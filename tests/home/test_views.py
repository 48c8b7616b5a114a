"""The home page: each role lands on its own work, every row linking where it is handled."""

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone
from guardian.shortcuts import assign_perm

from apps.evaluation.services import evaluation_run
from apps.evidence.models import Pack
from apps.reviews.models import Campaign, Remediation, ReviewItem
from tests.factories import (
    CampaignFactory,
    CollectionUnitFactory,
    CredentialFactory,
    EngagementFactory,
    ExceptionRequestFactory,
    SourceFactory,
    make_user,
)

pytestmark = pytest.mark.django_db

TODAY = timezone.now().date()


def _text(response) -> str:
    assert response.status_code == 200
    body = response.content.decode()
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body[body.index("<main") :]))


def _item(campaign, reviewer, *, verdicts, decision=""):
    credential = CredentialFactory()
    return ReviewItem.objects.create(
        campaign=campaign,
        source=credential.source,
        credential=credential,
        subject=credential.name,
        facts={"verdicts": verdicts},
        reviewer=reviewer,
        assigned_by_rule="fallback",
        decision=decision,
    )


def test_a_reviewer_lands_on_her_open_items_by_campaign(client, reviewer, grc_lead):
    soon = CampaignFactory(name="Q4 secrets", state=Campaign.State.ACTIVE, due_date=TODAY + dt.timedelta(days=3), created_by=grc_lead)
    late = CampaignFactory(name="Q3 keys", state=Campaign.State.ACTIVE, due_date=TODAY - dt.timedelta(days=2), created_by=grc_lead)
    draft = CampaignFactory(name="Not started", created_by=grc_lead)
    for verdicts in (["iam-key-rotation-age", "iam-key-unused"], [], ["root-no-mfa"]):
        _item(soon, reviewer, verdicts=verdicts)
    _item(soon, reviewer, verdicts=["x"], decision="keep")  # decided: not open
    _item(soon, grc_lead, verdicts=["x"])  # someone else's
    _item(late, reviewer, verdicts=[])
    _item(draft, reviewer, verdicts=["x"])  # a draft's items are nobody's work yet
    client.force_login(reviewer)
    text = _text(client.get(reverse("home")))
    assert "Your access reviews" in text
    assert "Q3 keys " + (TODAY - dt.timedelta(days=2)).isoformat() + " overdue 1 0" in text  # soonest due first
    assert "Q4 secrets " + (TODAY + dt.timedelta(days=3)).isoformat() + " 3 2" in text  # 3 open, 2 fail rules
    assert text.index("Q3 keys") < text.index("Q4 secrets") and "Not started" not in text
    body = client.get(reverse("home")).content.decode()
    assert f'href="/reviews/{soon.pk}/?reviewer=me&amp;decision=undecided"' in body
    assert "Control register" not in text and "Posture at a glance" not in text


def test_an_approver_lands_on_the_requests_awaiting_him_riskiest_first(client, approver, grc_lead):
    requester = make_user("reviewer", username="req")
    now = timezone.now()
    old_low = ExceptionRequestFactory(
        title="Old low", risk="low", state="pending", owner=requester, submitted_at=now - dt.timedelta(days=9)
    )
    new_high = ExceptionRequestFactory(title="New high", risk="high", state="pending", owner=requester, submitted_at=now)
    old_high = ExceptionRequestFactory(
        title="Old high", risk="high", state="pending", owner=requester, submitted_at=now - dt.timedelta(days=5)
    )
    ExceptionRequestFactory(title="His own", risk="critical", state="pending", owner=approver)  # separation of duties
    ExceptionRequestFactory(title="Already approved", risk="critical", state="approved", owner=requester)
    client.force_login(approver)
    text = _text(client.get(reverse("home")))
    assert "Exception requests awaiting your decision (3)" in text
    assert text.index("Old high") < text.index("New high") < text.index("Old low")
    assert "His own" not in text and "Already approved" not in text
    body = client.get(reverse("home")).content.decode()
    for e in (old_low, new_high, old_high):
        assert f'href="/exceptions/{e.pk}/"' in body


def test_the_grc_lead_sees_posture_and_what_is_failing_expiring_or_late(client, grc_lead, catalog):
    evaluation_run(trigger="manual")
    failing = SourceFactory(name="Legacy vault", kind="azure_key_vault")
    CollectionUnitFactory(source=failing, scope="azure_key_vault:x", status="failed", errors=[{"code": "auth_refused", "message": "no"}])
    stale = SourceFactory(name="Old account", schedule_minutes=60)
    CollectionUnitFactory(source=stale, status="succeeded", finished_at=timezone.now() - dt.timedelta(hours=5))
    fresh = SourceFactory(name="Fresh account")
    CollectionUnitFactory(source=fresh, status="succeeded", finished_at=timezone.now())
    SourceFactory(name="Brand new")
    owner = make_user("reviewer", username="owner")
    ExceptionRequestFactory(title="Ends soon", state="approved", owner=owner, expires_on=TODAY + dt.timedelta(days=4))
    ExceptionRequestFactory(title="Ends later", state="approved", owner=owner, expires_on=TODAY + dt.timedelta(days=60))
    late = CampaignFactory(name="Late campaign", state=Campaign.State.ACTIVE, due_date=TODAY - dt.timedelta(days=1), created_by=grc_lead)
    item = _item(late, owner, verdicts=[], decision="revoke")
    _item(late, owner, verdicts=[])
    Remediation.objects.create(
        item=item,
        credential=item.credential,
        action="revoke",
        owner=owner,
        due_date=TODAY - dt.timedelta(days=3),
        decided_at=timezone.now(),
    )
    client.force_login(grc_lead)
    text = _text(client.get(reverse("home")))
    assert re.search(r"9\.2\.4 Management of secret authentication information of users( \d+){7}", text)
    assert "9.3.1 Use of secret authentication information" in text and "Not assessed" in text
    assert "Legacy vault failing azure_key_vault:x: auth_refused" in text
    assert "Old account stale last collected 5 h ago" in text and "Brand new never collected" in text
    assert "Fresh account" not in text
    assert "Ends soon · " + (TODAY + dt.timedelta(days=4)).isoformat() + " (in 4 days)" in text and "Ends later" not in text
    assert "Late campaign · due " + (TODAY - dt.timedelta(days=1)).isoformat() + " · 1 undecided" in text
    assert "Overdue remediation (1)" in text and f"{item.subject} · revoke" in text
    assert "Control register" in text


def test_the_auditor_lands_on_her_engagements_and_their_packs(client, auditor, grc_lead):
    shared = EngagementFactory(name="Surveillance audit", created_by=grc_lead)
    EngagementFactory(name="Someone else's audit", created_by=grc_lead)
    assign_perm("evidence.view_engagement", auditor, shared)
    pack = Pack.objects.create(engagement=shared, pack_id="KT-TEST-1", as_of=timezone.now(), sample_seed=1, built_by=grc_lead)
    client.force_login(auditor)
    text = _text(client.get(reverse("home")))
    assert "Your engagements" in text and "Surveillance audit 2026-01-01 – 2026-12-31 KT-TEST-1 Queued" in text
    assert "Someone else's audit" not in text and "Posture at a glance" not in text and "Your access reviews" not in text
    assert f'href="/evidence/{shared.pk}/packs/{pack.pk}/"' in client.get(reverse("home")).content.decode()


def test_work_running_now_is_shown_with_its_progress(client, grc_lead, catalog, django_capture_on_commit_callbacks):
    from apps.evaluation.services import evaluation_request

    with django_capture_on_commit_callbacks(execute=False):
        evaluation = evaluation_request(actor=grc_lead)
    engagement = EngagementFactory(name="Audit", created_by=grc_lead)
    Pack.objects.create(engagement=engagement, pack_id="KT-RUNNING", as_of=timezone.now(), sample_seed=1, built_by=grc_lead)
    client.force_login(grc_lead)
    text = _text(client.get(reverse("home")))
    assert f"Running now Evaluation #{evaluation.pk} 0% waiting for a worker" in text
    assert "Pack KT-RUNNING 0% 0% · waiting for a worker" in text
