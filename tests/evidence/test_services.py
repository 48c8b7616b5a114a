"""Engagements and packs through the services: validation, the build with its audit trail,
immutability, audited downloads and verification of the stored zip."""

import datetime as dt

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.core.errors import PermissionRefused, ValidationFailed
from apps.evidence import services
from apps.evidence.models import Pack, PackImmutable

pytestmark = pytest.mark.django_db


def _build(engagement, actor, capture, **kw):
    with capture(execute=True):
        pack = services.pack_request(actor=actor, engagement=engagement, **kw)
    pack.refresh_from_db()
    return pack


def test_engagement_validation_and_audit(grc_lead, auditor, catalog):
    with pytest.raises(ValidationFailed, match="ends before it starts"):
        services.engagement_create(actor=grc_lead, name="x", period_start=dt.date(2026, 2, 1), period_end=dt.date(2026, 1, 1))
    with pytest.raises(PermissionRefused):
        services.engagement_create(actor=auditor, name="x", period_start=dt.date(2026, 1, 1), period_end=dt.date(2026, 2, 1))
    engagement = services.engagement_create(
        actor=grc_lead, name="Audit", period_start=dt.date(2026, 1, 1), period_end=dt.date(2026, 2, 1), requirements=list(catalog[:2])
    )
    event = AuditEvent.objects.get(event_type="engagement.created")
    assert event.target_id == str(engagement.pk) and event.changes["requirements"][1] == [r.ref for r in catalog[:2]]


def test_pack_request_refusals(world, grc_lead, auditor):
    engagement = world["engagement"]
    with pytest.raises(ValidationFailed, match="future"):
        services.pack_request(actor=grc_lead, engagement=engagement, as_of=timezone.now() + dt.timedelta(hours=1))
    with pytest.raises(ValidationFailed, match="sample size"):
        services.pack_request(actor=grc_lead, engagement=engagement, sample_size=0)
    with pytest.raises(PermissionRefused):  # an auditor sees the engagement but does not build
        services.pack_request(actor=auditor, engagement=engagement)
    assert not Pack.objects.exists()


def test_a_pack_is_built_stored_by_hash_never_changed_and_rebuilt_as_new(world, grc_lead, auditor, django_capture_on_commit_callbacks):
    engagement = world["engagement"]
    as_of = timezone.now()
    pack = _build(engagement, grc_lead, django_capture_on_commit_callbacks, as_of=as_of, sample_size=2)
    assert pack.state == Pack.State.SUCCEEDED and pack.progress == 100, pack.error
    assert pack.file.name == f"packs/{pack.sha256[:2]}/{pack.sha256}.zip" and default_storage.exists(pack.file.name)
    assert set(pack.file_hashes) == {"oscal-assessment-results.json", "pack.json", "pack.pdf", "pack.schema.json", "pack.xlsx"}
    assert {"gather", "pack.pdf", "pack.xlsx", "total"} <= set(pack.timings)
    assert list(
        AuditEvent.objects.filter(target_id=str(pack.pk), target_type="evidence.pack").order_by("seq").values_list("event_type", flat=True)
    ) == ["pack.requested", "pack.built"]
    pack.stage = "tampered"
    with pytest.raises(PackImmutable):
        pack.save()
    with pytest.raises(PackImmutable):
        pack.delete()

    again = _build(engagement, grc_lead, django_capture_on_commit_callbacks, as_of=as_of, sample_size=2)
    assert again.pk != pack.pk and again.pack_id != pack.pack_id
    assert again.data_sha256 == pack.data_sha256  # same as-of time, same data, same pack.json hash
    assert again.sample_seed == pack.sample_seed

    with services.pack_open(actor=auditor, pack=pack) as fh:
        assert fh.read(2) == b"PK"
    assert AuditEvent.objects.filter(event_type="pack.downloaded", actor=auditor, target_id=str(pack.pk)).count() == 1
    report = services.pack_verify(actor=auditor, pack=pack)
    assert report.ok, report.problems

    with open(pack.file.path, "r+b") as fh:  # someone alters the stored zip
        fh.seek(200)
        byte = fh.read(1)
        fh.seek(200)
        fh.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ValidationFailed, match="altered"):
        services.pack_open(actor=auditor, pack=pack)
    assert not services.pack_verify(actor=auditor, pack=pack).ok


def test_a_failed_build_is_recorded_and_keeps_nothing(world, grc_lead, django_capture_on_commit_callbacks, monkeypatch):
    # A renderer crash cannot be provoked through real data; replace the PDF renderer to fail on cue.
    def broken(*args, **kwargs):
        raise RuntimeError("renderer crashed")

    monkeypatch.setattr("apps.evidence.builder.render_pdf", broken)
    with pytest.raises(RuntimeError):
        _build(world["engagement"], grc_lead, django_capture_on_commit_callbacks)
    pack = Pack.objects.get()
    assert pack.state == Pack.State.FAILED and "renderer crashed" in pack.error and not pack.file
    assert AuditEvent.objects.filter(event_type="pack.failed", target_id=str(pack.pk)).exists()
    assert services.pack_build(pack_pk=pack.pk).state == Pack.State.FAILED  # a redelivered task leaves it alone
