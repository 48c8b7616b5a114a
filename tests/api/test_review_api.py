"""The access-review endpoints: what each persona sees, decisions through the service (one
call for a batch, refused whole), delegation, reassignment, sign-off, remediation with the
run that verified it — all with real tokens over the real stack."""

import datetime as dt

import pytest
from django.utils import timezone

from apps.accounts.roles import Role
from apps.audit.models import AuditEvent
from apps.reviews.models import Campaign, Remediation, ReviewItem
from tests.factories import CollectionRunFactory, CredentialFactory, make_user
from tests.support.reviews import campaign, inventory, people  # noqa: F401

pytestmark = pytest.mark.django_db


def _ids(campaign, **filters):  # noqa: F811
    return sorted(campaign.items.filter(**filters).values_list("pk", flat=True))


def test_grc_lead_creates_starts_and_sees_the_whole_campaign(api_as, people, inventory, django_capture_on_commit_callbacks):  # noqa: F811
    api = api_as(people["grc"])
    due = (timezone.now().date() + dt.timedelta(days=14)).isoformat()
    bad = api.post("/api/v1/campaigns/", {"name": "Q4", "due_date": "2020-01-01", "fallback_reviewer": "fallback"}, format="json")
    assert bad.status_code == 400 and bad.json()["detail"].startswith("Nothing was changed: Due date")
    unknown = api.post("/api/v1/campaigns/", {"name": "Q4", "due_date": due, "fallback_reviewer": "nobody"}, format="json")
    assert unknown.status_code == 400 and "fallback_reviewer" in unknown.json()
    created = api.post(
        "/api/v1/campaigns/",
        {
            "name": "Q4 <b>keys</b>",
            "due_date": due,
            "fallback_reviewer": "fallback",
            "scope": {"source_ids": [inventory["source"].pk], "tag": {"key": "k", "value": "v"}},
        },
        format="json",
    )
    assert created.status_code == 400  # no credential has that tag: nothing created
    assert not Campaign.objects.exists()
    created = api.post(
        "/api/v1/campaigns/",
        {
            "name": "Q4 <b>keys</b>",
            "due_date": due,
            "fallback_reviewer": "fallback",
            "scope": {"source_ids": [inventory["source"].pk]},
            "justification_rule": "changes",
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["state"] == "draft" and body["name"] == "Q4 <b>keys</b>" and body["sees_all"] is True
    with django_capture_on_commit_callbacks(execute=True):  # the worker runs once the request has answered
        started = api.post(f"/api/v1/campaigns/{body['id']}/start/", {}, format="json")
    assert started.status_code == 202 and started.json()["state"] == "starting" and started.json()["population_count"] is None
    assert started["Location"] == started.json()["progress_url"] == f"/api/v1/campaigns/{body['id']}/"
    assert api.get(started.json()["progress_url"]).json()["state"] == "active"
    assert api.post(f"/api/v1/campaigns/{body['id']}/start/", {}, format="json").status_code == 409
    detail = api.get(f"/api/v1/campaigns/{body['id']}/").json()
    assert (
        detail["population_count"] == 4
        and detail["decision_counts"]["undecided"] == 4
        and {p["reviewer"] for p in detail["progress"]} >= {"alice"}
    )
    items = api.get(f"/api/v1/campaigns/{body['id']}/items/").json()
    assert items["count"] == 4
    assert AuditEvent.objects.filter(event_type="campaign.started").count() == 1


def test_reviewer_sees_only_their_items_and_decides_in_bulk(api_as, people, campaign, django_assert_max_num_queries):  # noqa: F811
    alice = api_as(people["alice"])
    listed = alice.get("/api/v1/campaigns/").json()
    assert [c["id"] for c in listed["results"]] == [campaign.pk] and listed["results"][0]["mine"] == len(
        _ids(campaign, reviewer=people["alice"])
    )
    detail = alice.get(f"/api/v1/campaigns/{campaign.pk}/").json()
    assert detail["sees_all"] is False and detail["reviews"] is True and detail["progress"] is None
    with django_assert_max_num_queries(12):
        items = alice.get(f"/api/v1/campaigns/{campaign.pk}/items/").json()
    mine = _ids(campaign, reviewer=people["alice"])
    assert sorted(i["id"] for i in items["results"]) == mine and mine
    others = _ids(campaign, reviewer=people["fallback"])
    # Another reviewer's item: 404 alone, and the whole batch refused when mixed in.
    assert alice.get(f"/api/v1/review-items/{others[0]}/").status_code == 404
    mixed = alice.post(
        f"/api/v1/campaigns/{campaign.pk}/decide/", {"items": mine + others[:1], "decision": "keep", "justification": "used"}, format="json"
    )
    assert mixed.status_code == 403 and "nothing was decided" in mixed.json()["detail"]
    assert not campaign.items.exclude(decision="").exists()
    no_reason = alice.post(f"/api/v1/campaigns/{campaign.pk}/decide/", {"items": mine, "decision": "revoke"}, format="json")
    assert no_reason.status_code == 400 and "Justification" in no_reason.json()["detail"]
    done = alice.post(
        f"/api/v1/campaigns/{campaign.pk}/decide/",
        {"items": mine, "decision": "revoke", "justification": "batch job retired"},
        format="json",
    )
    assert done.status_code == 200 and done.json() == {"count": len(mine)}
    assert set(campaign.items.filter(pk__in=mine).values_list("decision", flat=True)) == {"revoke"}
    assert AuditEvent.objects.filter(event_type="review.decided", actor=people["alice"]).count() == len(mine)
    again = alice.post(f"/api/v1/campaigns/{campaign.pk}/decide/", {"items": mine, "decision": "keep", "justification": "x"}, format="json")
    assert again.status_code == 409
    remediation = alice.get(f"/api/v1/campaigns/{campaign.pk}/remediation/").json()
    assert remediation["count"] == len(mine) and all(r["state"] == "open" and r["verified_by_run"] is None for r in remediation["results"])
    assert remediation["results"][0]["events"][0]["state"] == "open"
    # Someone with no item in it: 404, recorded.
    outsider = make_user(Role.REVIEWER, username="carol")
    assert not campaign.items.filter(reviewer=outsider).exists()
    denied = AuditEvent.objects.filter(event_type="access.denied", actor=outsider).count()
    assert api_as(outsider).get(f"/api/v1/campaigns/{campaign.pk}/").status_code == 404
    assert AuditEvent.objects.filter(event_type="access.denied", actor=outsider).count() == denied + 1


def test_one_item_decided_and_not_ones_own(api_as, people, campaign, inventory):  # noqa: F811
    own = campaign.items.get(credential=inventory["alice_key"])
    ReviewItem.objects.filter(pk=own.pk).update(reviewer=people["alice"])  # wrongly handed to her
    alice = api_as(people["alice"])
    seen = alice.get(f"/api/v1/review-items/{own.pk}/").json()
    assert seen["is_own"] is True
    refused = alice.post(f"/api/v1/review-items/{own.pk}/decide/", {"decision": "keep", "justification": "mine"}, format="json")
    assert refused.status_code == 403 and "your own identity" in refused.json()["detail"]
    assert ReviewItem.objects.get(pk=own.pk).decision == ""
    assert AuditEvent.objects.filter(event_type="access.denied", actor=people["alice"]).exists()
    other = campaign.items.filter(reviewer=people["alice"]).exclude(pk=own.pk).first()
    decided = alice.post(f"/api/v1/review-items/{other.pk}/decide/", {"decision": "keep", "justification": "still used"}, format="json")
    assert decided.status_code == 200 and decided.json()["decision"] == "keep" and decided.json()["decided_by"] == "alice"
    # The GRC lead sees every item but decides none.
    assert api_as(people["grc"]).post(f"/api/v1/review-items/{other.pk}/decide/", {"decision": "keep"}, format="json").status_code == 403


def test_delegate_reassign_cancel_and_sign_off(api_as, people, campaign):  # noqa: F811
    alice, grc = api_as(people["alice"]), api_as(people["grc"])
    mine = _ids(campaign, reviewer=people["alice"])
    assert alice.post(f"/api/v1/campaigns/{campaign.pk}/delegate/", {"items": mine, "to_reviewer": "bob"}, format="json").status_code == 400
    moved = alice.post(
        f"/api/v1/campaigns/{campaign.pk}/delegate/", {"items": mine, "to_reviewer": "bob", "note": "on leave"}, format="json"
    )
    assert moved.status_code == 200 and moved.json() == {"count": len(mine)}
    assert alice.post(f"/api/v1/campaigns/{campaign.pk}/reassign/", {"to_reviewer": "alice", "note": "x"}, format="json").status_code == 403
    back = grc.post(
        f"/api/v1/campaigns/{campaign.pk}/reassign/", {"from_reviewer": "bob", "to_reviewer": "alice", "note": "back"}, format="json"
    )
    assert back.status_code == 200 and back.json()["count"] >= len(mine)
    early = grc.post(f"/api/v1/campaigns/{campaign.pk}/sign-off/", {}, format="json")
    assert early.status_code == 409 and "undecided" in early.json()["detail"]
    assert grc.post(f"/api/v1/campaigns/{campaign.pk}/cancel/", {}, format="json").status_code == 400
    cancelled = grc.post(f"/api/v1/campaigns/{campaign.pk}/cancel/", {"comment": "scope was wrong"}, format="json")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"


def test_signed_off_campaign_and_verified_remediation_as_an_auditor_sees_them(api_as, people, campaign):  # noqa: F811
    from django.db import transaction

    from apps.accounts.sharing import object_share
    from apps.reviews import services

    for reviewer in {i.reviewer for i in campaign.items.select_related("reviewer")}:
        services.items_decide(
            actor=reviewer, campaign=campaign, item_ids=_ids(campaign, reviewer=reviewer), decision="revoke", justification="gone"
        )
    run = CollectionRunFactory(status="succeeded", started_at=timezone.now(), finished_at=timezone.now())
    Remediation.objects.filter(item__campaign=campaign).update(state="verified", verified_at=timezone.now(), verified_by_run=run)
    grc = api_as(people["grc"])
    assert grc.post(f"/api/v1/campaigns/{campaign.pk}/sign-off/", {"comment": "all decided"}, format="json").json()["state"] == "signed_off"
    auditor = api_as(people["auditor"], scope="read")
    assert auditor.get(f"/api/v1/campaigns/{campaign.pk}/").status_code == 404
    with transaction.atomic():
        object_share(actor=people["grc"], obj=campaign, grantee=people["auditor"], permissions=["view_campaign"])
    assert auditor.get(f"/api/v1/campaigns/{campaign.pk}/").json()["sees_all"] is True
    rows = auditor.get(f"/api/v1/campaigns/{campaign.pk}/remediation/").json()["results"]
    assert rows and all(r["state"] == "verified" and r["verified_by_run"] == run.pk for r in rows)
    assert auditor.post(f"/api/v1/campaigns/{campaign.pk}/cancel/", {"comment": "x"}, format="json").status_code == 403  # read-only token


def test_review_lists_take_a_fixed_number_of_queries(api_as, people, inventory, django_assert_max_num_queries):  # noqa: F811
    from apps.reviews import services

    svc = inventory["svc_key"].identity
    for n in range(30):
        CredentialFactory(
            source=inventory["source"],
            scope="aws_iam",
            external_id=f"AKIAMANY{n:02d}",
            credential_type="access_key",
            name=f"AKIAMANY{n:02d}",
            identity=svc,
            enabled=True,
            fingerprint="f",
            first_seen_at=timezone.now(),
        )
    for name in ("A", "B", "C"):
        draft = services.campaign_create(
            actor=people["grc"],
            name=name,
            scope={"source_ids": [inventory["source"].pk]},
            due_date=timezone.now().date() + dt.timedelta(days=14),
            fallback_reviewer=people["fallback"],
        )
        started = services.campaign_start(actor=people["grc"], campaign=draft)
    services.items_decide(
        actor=people["alice"],
        campaign=started,
        item_ids=_ids(started, reviewer=people["alice"]),
        decision="revoke",
        justification="retired",
    )
    assert Remediation.objects.filter(item__campaign=started).count() > 30
    grc = api_as(people["grc"])
    for url in (
        "/api/v1/campaigns/",
        f"/api/v1/campaigns/{started.pk}/items/",
        f"/api/v1/campaigns/{started.pk}/remediation/",
        f"/api/v1/campaigns/{started.pk}/",
    ):
        with django_assert_max_num_queries(14):
            assert grc.get(url).status_code == 200
