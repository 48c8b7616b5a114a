import datetime as dt
import hashlib

import pytest
from django.test import override_settings

from apps.audit.models import AuditEvent
from apps.controls import services
from apps.controls.models import ControlEvidence, ImmutableError
from apps.core.errors import PermissionRefused, ValidationFailed
from tests.factories import make_user

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def test_create_records_an_event_and_gives_the_owner_reach(catalog, grc_lead, reviewer):
    control = services.control_create(actor=grc_lead, title="MFA", owner=reviewer, narrative="n", requirements=[catalog[0]])
    assert control.ref == "CTL-001"
    event = AuditEvent.objects.get(event_type="control.created")
    assert event.actor == grc_lead and event.target_id == str(control.pk)
    assert event.changes["owner"] == [None, reviewer.username]
    assert reviewer.has_perm("controls.change_control", control) and reviewer.has_perm("controls.attach_evidence", control)
    assert not reviewer.has_perm("controls.change_control")  # reach is per object, not global


def test_only_roles_that_may_add_controls_do(catalog, auditor):
    with pytest.raises(PermissionRefused):
        services.control_create(actor=auditor, title="x", owner=auditor, narrative="n", requirements=[])


def test_update_records_exactly_what_changed(control, grc_lead, catalog):
    services.control_update(
        actor=grc_lead, control=control, title="New title", implementation_status="implemented", requirements=[catalog[5]]
    )
    event = AuditEvent.objects.filter(event_type="control.updated").get()
    assert event.changes["title"] == ["Scheduled rotation", "New title"]
    assert event.changes["implementation_status"] == ["planned", "implemented"]
    assert event.changes["requirements"][1] == [catalog[5].ref]
    assert set(event.changes) == {"title", "implementation_status", "requirements"}


def test_an_unchanged_save_records_nothing(control, grc_lead):
    before = AuditEvent.objects.count()
    services.control_update(actor=grc_lead, control=control, title=control.title)
    assert AuditEvent.objects.count() == before


def test_evidence_is_stored_with_its_hash_and_never_modified(control, grc_lead):
    ev = services.control_evidence_attach(
        actor=grc_lead, control=control, name="policy.pdf", content=PDF, effective_date=dt.date(2026, 3, 1)
    )
    assert ev.sha256 == hashlib.sha256(PDF).hexdigest() and ev.size == len(PDF) and ev.content_type == "application/pdf"
    assert ev.uploaded_by == grc_lead and ev.effective_date == dt.date(2026, 3, 1)
    with ev.file.open("rb") as fh:
        assert hashlib.sha256(fh.read()).hexdigest() == ev.sha256
    assert ev.file.name.endswith(ev.sha256)  # content-addressed
    ev.description = "changed"
    with pytest.raises(ImmutableError):
        ev.save()
    with pytest.raises(ImmutableError):
        ev.delete()
    event = AuditEvent.objects.get(event_type="control.evidence_attached")
    assert event.changes["sha256"] == ev.sha256


def test_the_same_file_twice_shares_one_stored_copy(control, grc_lead):
    a = services.control_evidence_attach(actor=grc_lead, control=control, name="a.pdf", content=PDF, effective_date=dt.date(2026, 1, 1))
    b = services.control_evidence_attach(actor=grc_lead, control=control, name="b.pdf", content=PDF, effective_date=dt.date(2026, 2, 1))
    assert a.file.name == b.file.name and a.pk != b.pk


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("empty.pdf", b"", "empty"),
        ("fake.pdf", b"MZ\x90\x00 this is an exe", "not a valid .pdf"),
        ("script.exe", b"MZ\x90\x00", "not accepted"),
        ("page.html", b"<script>alert(1)</script>", "not accepted"),
        ("data.csv", b"a,b\x00,c", "not a valid .csv"),
        ("latin1.txt", "café".encode("latin-1"), "not a valid .txt"),
        ("sheet.xlsx", b"PK\x03\x04garbage", "not a valid .xlsx"),
        ("noext", b"hello", "no extension"),
    ],
)
def test_malformed_uploads_are_refused_and_nothing_is_stored(control, grc_lead, name, content, message):
    with pytest.raises(ValidationFailed, match=message):
        services.control_evidence_attach(actor=grc_lead, control=control, name=name, content=content, effective_date=dt.date(2026, 1, 1))
    assert ControlEvidence.objects.count() == 0
    assert not AuditEvent.objects.filter(event_type="control.evidence_attached").exists()


@override_settings(KEYTRAIL_EVIDENCE_MAX_BYTES=1024)
def test_oversized_upload_is_refused(control, grc_lead):
    with pytest.raises(ValidationFailed, match="limit is 1,024 bytes"):
        services.control_evidence_attach(
            actor=grc_lead, control=control, name="big.txt", content=b"a" * 1025, effective_date=dt.date(2026, 1, 1)
        )
    assert ControlEvidence.objects.count() == 0


def test_path_in_filename_is_stripped(control, grc_lead):
    ev = services.control_evidence_attach(
        actor=grc_lead, control=control, name="../../etc/passwd.txt", content=b"x", effective_date=dt.date(2026, 1, 1)
    )
    assert ev.original_name == "passwd.txt"


def test_download_detects_a_file_altered_on_disk(control, grc_lead):
    ev = services.control_evidence_attach(actor=grc_lead, control=control, name="p.pdf", content=PDF, effective_date=dt.date(2026, 1, 1))
    assert services.control_evidence_open(actor=grc_lead, evidence=ev) == PDF
    with open(ev.file.path, "ab") as fh:
        fh.write(b"tampered")
    with pytest.raises(ValidationFailed, match="altered"):
        services.control_evidence_open(actor=grc_lead, evidence=ev)


def test_share_and_unshare(control, grc_lead, auditor):
    assert not auditor.has_perm("controls.view_control", control)
    services.control_share(actor=grc_lead, control=control, grantee=auditor, permissions=["view_control"])
    auditor = type(auditor).objects.get(pk=auditor.pk)  # fresh permission cache
    assert auditor.has_perm("controls.view_control", control)
    services.control_unshare(actor=grc_lead, control=control, grantee=auditor, permissions=["view_control"])
    auditor = type(auditor).objects.get(pk=auditor.pk)
    assert not auditor.has_perm("controls.view_control", control)
    assert AuditEvent.objects.filter(event_type__in=["object.shared", "object.unshared"]).count() == 2
    with pytest.raises(ValidationFailed):
        services.control_share(actor=grc_lead, control=control, grantee=auditor, permissions=["delete_control"])


def test_sharing_with_a_deactivated_user_is_refused(control, grc_lead):
    gone = make_user("auditor", is_active=False)
    with pytest.raises(ValidationFailed, match="deactivated"):
        services.control_share(actor=grc_lead, control=control, grantee=gone, permissions=["view_control"])
