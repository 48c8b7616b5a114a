"""Evidence in S3-compatible object storage with Object Lock, against moto's server (real HTTP;
moto implements Object Lock retention and conditional writes)."""

import datetime as dt
import uuid

import boto3
import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.audit.storage import EvidenceLocked, EvidenceS3Storage
from tests.support.cloud import moto_server_url  # noqa: F401 - fixture


@pytest.fixture
def bucket(moto_server_url, monkeypatch):  # noqa: F811
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    name = f"keytrail-evidence-{uuid.uuid4().hex[:12]}"
    s3 = boto3.client("s3", endpoint_url=moto_server_url, region_name="us-east-1")
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    return s3, name


def _storage(bucket, url):
    return EvidenceS3Storage(bucket_name=bucket, endpoint_url=url, region_name="us-east-1", default_acl=None)


@pytest.fixture
def locked(settings):
    settings.KEYTRAIL_OBJECT_LOCK_MODE = "COMPLIANCE"
    settings.KEYTRAIL_OBJECT_LOCK_DAYS = 30


def test_objects_are_written_under_compliance_retention(db, bucket, locked, moto_server_url):  # noqa: F811
    s3, name = bucket
    storage = _storage(name, moto_server_url)
    stored = storage.save("packs/ab/abcdef.zip", ContentFile(b"pack bytes"))
    head = s3.head_object(Bucket=name, Key=stored)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    retain = head["ObjectLockRetainUntilDate"]
    assert timezone.now() + dt.timedelta(days=29) < retain < timezone.now() + dt.timedelta(days=31)
    with storage.open(stored, "rb") as fh:
        assert fh.read() == b"pack bytes"


def test_overwrite_and_delete_are_refused_by_the_store_and_recorded(db, bucket, locked, moto_server_url):  # noqa: F811
    s3, name = bucket
    storage = _storage(name, moto_server_url)
    stored = storage.save("evidence/ab/abcdef", ContentFile(b"original"))

    with pytest.raises(EvidenceLocked, match="overwrite"):
        storage._save(stored, ContentFile(b"tampered"))
    with pytest.raises(EvidenceLocked, match="delete"):
        storage.delete(stored)

    # Still there, unchanged, one version only.
    with storage.open(stored, "rb") as fh:
        assert fh.read() == b"original"
    assert len(s3.list_object_versions(Bucket=name, Prefix=stored)["Versions"]) == 1
    refused = AuditEvent.objects.filter(event_type="storage.change_refused").order_by("seq")
    assert [(e.changes["operation"], e.changes["code"]) for e in refused] == [
        ("overwrite", "PreconditionFailed"),
        ("delete", "AccessDenied"),
    ]
    assert all(e.actor_label == "system:storage" for e in refused)

    # An administrator with the bucket's own credentials fares no better than keytrail.
    version = s3.head_object(Bucket=name, Key=stored)["VersionId"]
    with pytest.raises(s3.exceptions.ClientError, match="AccessDenied"):
        s3.delete_object(Bucket=name, Key=stored, VersionId=version)


def test_without_object_lock_it_is_plain_s3(db, bucket, settings, moto_server_url):  # noqa: F811
    settings.KEYTRAIL_OBJECT_LOCK_MODE = ""
    s3, name = bucket
    storage = _storage(name, moto_server_url)
    stored = storage.save("evidence/cd/cdef", ContentFile(b"x"))
    assert "ObjectLockMode" not in s3.head_object(Bucket=name, Key=stored)
    storage.delete(stored)
    assert not storage.exists(stored)


def test_manual_evidence_goes_to_the_bucket_and_back(db, bucket, locked, settings, moto_server_url, control, grc_lead):  # noqa: F811
    from apps.controls.services import control_evidence_attach, control_evidence_open

    s3, name = bucket
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "apps.audit.storage.EvidenceS3Storage",
            "OPTIONS": {"bucket_name": name, "endpoint_url": moto_server_url, "region_name": "us-east-1", "default_acl": None},
        },
    }
    evidence = control_evidence_attach(
        actor=grc_lead, control=control, name="policy.pdf", content=b"%PDF-1.4 rotation policy", effective_date=dt.date(2026, 1, 1)
    )
    head = s3.head_object(Bucket=name, Key=evidence.file.name)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert control_evidence_open(actor=grc_lead, evidence=evidence) == b"%PDF-1.4 rotation policy"
    # The same bytes attached again share the stored object: no write, so no refusal.
    again = control_evidence_attach(
        actor=grc_lead, control=control, name="copy.pdf", content=b"%PDF-1.4 rotation policy", effective_date=dt.date(2026, 1, 2)
    )
    assert again.file.name == evidence.file.name
    assert not AuditEvent.objects.filter(event_type="storage.change_refused").exists()
