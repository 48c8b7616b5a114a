"""The remediation check on a real Celery worker and Redis: a collection finished by the
worker enqueues reviews.verify_remediation, which the worker runs and which verifies a
revoked key deleted in moto's server."""

import datetime as dt
import time

import boto3
import pytest
from django.utils import timezone

from apps.devtools.simulators.aws import iam_backend
from apps.inventory.services.collection import collection_start
from apps.reviews import services
from apps.reviews.models import Remediation
from tests.support.cloud import ACCOUNT_A, cloud, moto_server_url, register_sources  # noqa: F401
from tests.support.worker import celery_broker, start_worker  # noqa: F401

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _wait_for(check, what: str, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_collection_on_the_worker_verifies_a_revocation(cloud, people, start_worker):
    start_worker({**cloud.env(), "KEYTRAIL_EVALUATE_AFTER_COLLECTION": "false"})
    sources = register_sources(people["grc"], cloud)[:1]
    first = collection_start(actor=people["grc"], sources=sources)
    _wait_for(lambda: first.refresh_from_db() or first.is_finished, "the first collection")
    user = next(u for u in iam_backend(ACCOUNT_A).users.values() if u.access_keys)
    key = user.access_keys[0].access_key_id
    draft = services.campaign_create(
        actor=people["grc"],
        name="keys",
        scope={"credential_types": ["access_key"]},
        due_date=timezone.now().date() + dt.timedelta(days=5),
        fallback_reviewer=people["fallback"],
    )
    campaign = services.campaign_start(actor=people["grc"], campaign=draft)
    item = campaign.items.get(credential__external_id=key)
    services.items_decide(actor=item.reviewer, campaign=campaign, item_ids=[item.pk], decision="revoke", justification="left the company")
    boto3.client("iam", endpoint_url=cloud.aws_url, region_name="us-east-1").delete_access_key(UserName=user.name, AccessKeyId=key)

    second = collection_start(actor=people["grc"], sources=sources)
    remediation = Remediation.objects.get(item=item)
    _wait_for(lambda: remediation.refresh_from_db() or remediation.state == "verified", "the remediation check")
    assert remediation.verified_by_run_id == second.pk
