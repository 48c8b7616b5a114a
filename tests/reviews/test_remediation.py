"""Remediation verified end to end: decisions, then changes made in moto's server (over HTTP,
through boto3, as the admin acting on the decision would), then real collections."""

import datetime as dt
import time

import boto3
import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.devtools.simulators.aws import iam_backend
from apps.inventory.models import Credential
from apps.inventory.services.collection import collection_start
from apps.reviews import services
from apps.reviews.models import Remediation
from apps.reviews.remediation import remediation_verify
from apps.reviews.selectors import campaigns_for_pack, decisions_for_credentials
from tests.support.cloud import ACCOUNT_A, cloud, moto_server_url, register_sources  # noqa: F401

pytestmark = pytest.mark.django_db


def _collect(actor, sources, capture):
    with capture(execute=True):
        run = collection_start(actor=actor, sources=sources)
    run.refresh_from_db()
    assert run.status == "succeeded", [u.errors for u in run.units.all()]
    return run


def test_revoke_and_rotate_are_verified_by_later_collections(cloud, people, settings, django_capture_on_commit_callbacks):
    settings.KEYTRAIL_EVALUATE_AFTER_COLLECTION = False  # not under test here; keeps the test quick
    sources = register_sources(people["grc"], cloud)[:1]
    _collect(people["grc"], sources, django_capture_on_commit_callbacks)
    users = [u for u in iam_backend(ACCOUNT_A).users.values() if u.access_keys]
    deleted, kept, toggled = (
        users[0].access_keys[0].access_key_id,
        users[1].access_keys[0].access_key_id,
        users[2].access_keys[0].access_key_id,
    )
    rotated_user = next(u for u in users[3:] if len(u.access_keys) == 1)
    rotated = rotated_user.access_keys[0].access_key_id
    # The toggled key must start active for its deactivation to count.
    iam = boto3.client("iam", endpoint_url=cloud.aws_url, region_name="us-east-1")
    for user, key in ((users[2], toggled), (users[0], deleted), (users[1], kept)):
        iam.update_access_key(UserName=user.name, AccessKeyId=key, Status="Active")
    first = _collect(people["grc"], sources, django_capture_on_commit_callbacks)

    draft = services.campaign_create(
        actor=people["grc"],
        name="Keys",
        scope={"source_ids": [sources[0].pk], "credential_types": ["access_key"]},
        due_date=timezone.now().date() + dt.timedelta(days=10),
        fallback_reviewer=people["fallback"],
    )
    campaign = services.campaign_start(actor=people["grc"], campaign=draft)
    item_of = dict(campaign.items.values_list("credential__external_id", "pk"))
    services.items_decide(
        actor=people["fallback"],
        campaign=campaign,
        item_ids=[item_of[deleted], item_of[kept], item_of[toggled]],
        decision="revoke",
        justification="owner left",
    )
    services.items_decide(
        actor=people["fallback"], campaign=campaign, item_ids=[item_of[rotated]], decision="rotate", justification="too old"
    )
    assert Remediation.objects.filter(item__campaign=campaign, state="open").count() == 4
    time.sleep(1.1)  # IAM reports creation times to the second; the new key must postdate the decision

    # The admin acts: delete one key, deactivate another, rotate a third; the fourth is forgotten.
    iam.delete_access_key(UserName=users[0].name, AccessKeyId=deleted)
    iam.update_access_key(UserName=users[2].name, AccessKeyId=toggled, Status="Inactive")
    iam.create_access_key(UserName=rotated_user.name)
    iam.delete_access_key(UserName=rotated_user.name, AccessKeyId=rotated)
    second = _collect(people["grc"], sources, django_capture_on_commit_callbacks)

    state = {r.credential.external_id: r for r in Remediation.objects.filter(item__campaign=campaign).select_related("credential")}
    assert state[deleted].state == "verified" and state[deleted].verified_by_run_id == second.pk
    assert state[toggled].state == "verified" and state[rotated].state == "verified"
    assert state[kept].state == "open" and state[kept].verified_by_run_id is None
    assert AuditEvent.objects.filter(event_type="remediation.verified").count() == 3
    # Idempotent: checking the same run again changes nothing.
    assert remediation_verify(run_id=second.pk) == {}
    # A collection from before the decision proves nothing.
    assert remediation_verify(run_id=first.pk) == {}

    # The access comes back: the deactivated key is switched on again.
    iam.update_access_key(UserName=users[2].name, AccessKeyId=toggled, Status="Active")
    third = _collect(people["grc"], sources, django_capture_on_commit_callbacks)
    reopened = Remediation.objects.get(pk=state[toggled].pk)
    assert reopened.state == "reopened" and reopened.verified_at is None
    assert list(reopened.events.values_list("state", "run_id")) == [("open", None), ("verified", second.pk), ("reopened", third.pk)]
    assert Remediation.objects.get(pk=state[deleted].pk).state == "verified"

    # The pack sees the state as it was: verified as of the second run, reopened now.
    as_of_second = third.created_at - dt.timedelta(microseconds=1)
    pack = {r["credential_id"]: r for r in campaigns_for_pack(as_of=as_of_second)[0]["remediation"]}
    toggled_id = Credential.objects.get(external_id=toggled).pk
    assert pack[toggled_id]["state"] == "verified" and pack[toggled_id]["verified_by_run_id"] == second.pk
    now_pack = {r["credential_id"]: r for r in campaigns_for_pack(as_of=timezone.now())[0]["remediation"]}
    assert now_pack[toggled_id]["state"] == "reopened" and now_pack[toggled_id]["verified_by_run_id"] is None
    lifecycle = decisions_for_credentials([toggled_id], as_of=timezone.now())[toggled_id]
    assert lifecycle[0]["decision"] == "revoke" and lifecycle[0]["remediation"]["state"] == "reopened"
