"""Checkpoints copied outside the database: to an S3 bucket with Object Lock (COMPLIANCE mode),
against moto's server over real HTTP. The object cannot be deleted or overwritten before its
retention date, and its anchor still verifies the chain after the database's copy is gone."""

import datetime as dt
import json

import boto3
import pytest
from botocore.exceptions import ClientError
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.audit.anchor_targets import AnchorTargetError
from apps.audit.checkpoints import anchor_check, checkpoint_create
from apps.audit.models import AuditCheckpoint
from apps.devtools.simulators.aws import reset_moto
from tests.support.audit import attack_truncate, delete_checkpoints, record_events
from tests.support.cloud import moto_server_url  # noqa: F401 - session fixture

pytestmark = pytest.mark.django_db
BUCKET = "keytrail-audit-anchors"


@pytest.fixture
def s3(moto_server_url, settings, monkeypatch, tmp_path):  # noqa: F811
    reset_moto(moto_server_url)
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "eu-west-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    client = boto3.client("s3", endpoint_url=moto_server_url, region_name="eu-west-1")
    client.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    settings.KEYTRAIL_AUDIT_ANCHOR_TARGET = f"s3://{BUCKET}/anchors/"
    settings.KEYTRAIL_AUDIT_ANCHOR_S3_ENDPOINT_URL = moto_server_url
    settings.KEYTRAIL_AUDIT_ANCHOR_RETENTION_DAYS = 30
    return client


def test_each_checkpoint_is_an_object_locked_in_compliance_mode(s3, tmp_path):
    record_events(25)
    checkpoint_create(reason=AuditCheckpoint.Reason.MANUAL)
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="anchors/")["Contents"]
    assert len(listed) == 1
    key = listed[0]["Key"]
    head = s3.head_object(Bucket=BUCKET, Key=key)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] > timezone.now() + dt.timedelta(days=29)
    version = head["VersionId"]
    with pytest.raises(ClientError, match="AccessDenied"):
        s3.delete_object(Bucket=BUCKET, Key=key, VersionId=version)  # not even the bucket's owner, until the date
    anchor = json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    assert anchor_check(anchor).seq == 25

    # The trail is truncated and the database's checkpoints deleted: the bucket's copy tells.
    attack_truncate()
    delete_checkpoints()
    call_command("verify_audit_chain")
    copy = tmp_path / "anchors.jsonl"
    copy.write_text(json.dumps(anchor) + "\n")
    with pytest.raises(CommandError, match="TRUNCATED"):
        call_command("verify_audit_chain", anchors=[str(copy)])


def test_a_bucket_that_refuses_the_write_fails_the_checkpoint_loudly(s3, settings):
    record_events(1)
    settings.KEYTRAIL_AUDIT_ANCHOR_TARGET = "s3://no-such-bucket/anchors/"
    with pytest.raises(AnchorTargetError, match="no-such-bucket"):
        checkpoint_create(reason=AuditCheckpoint.Reason.MANUAL)
