"""Every pack carries the audit chain's head signed at build time (manifest ``audit_anchor``);
``verify_audit_chain --against-pack`` catches each rewrite of the trail even after the
checkpoints stored in the database were deleted with it."""

import zipfile

import orjson
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.audit.checkpoints import anchor_check
from apps.audit.models import AuditCheckpoint, AuditEvent
from apps.core import signing as core_signing
from apps.evidence import services
from apps.evidence.builder import build_files
from apps.evidence.gather import gather
from apps.evidence.manifest import verify_zip
from tests.support.audit import ATTACKS, delete_checkpoints, record_events

pytestmark = pytest.mark.django_db


def _built_pack(world, grc_lead, capture):
    record_events(25)  # enough history for "the newest 20 rows" to end before the anchor
    with capture(execute=True):
        pack = services.pack_request(actor=grc_lead, engagement=world["engagement"], as_of=timezone.now(), sample_size=2)
    pack.refresh_from_db()
    assert pack.state == pack.State.SUCCEEDED, pack.error
    return pack


def test_the_manifest_carries_the_head_signed_at_build(world, grc_lead, django_capture_on_commit_callbacks):
    pack = _built_pack(world, grc_lead, django_capture_on_commit_callbacks)
    with zipfile.ZipFile(pack.file.path) as zf:
        manifest = orjson.loads(zf.read("manifest.json"))
    anchor = anchor_check(manifest["audit_anchor"])
    checkpoint = AuditCheckpoint.objects.get(reason="pack", reference=pack.pack_id)
    requested = AuditEvent.objects.get(event_type="pack.requested", target_id=str(pack.pk))
    assert anchor.seq == checkpoint.seq >= requested.seq  # signed after the request, before pack.built
    assert AuditEvent.objects.get(seq=anchor.seq).hash == anchor.head_hash
    assert verify_zip(pack.file.path).ok
    call_command("verify_audit_chain", against_pack=[pack.file.path])


@pytest.mark.parametrize(("attack", "label"), ATTACKS, ids=["rehash", "renumber", "truncate"])
def test_against_pack_catches_each_rewrite(world, grc_lead, django_capture_on_commit_callbacks, attack, label):
    pack = _built_pack(world, grc_lead, django_capture_on_commit_callbacks)
    attack()
    delete_checkpoints()  # the attacker removes what the database held of the anchors
    call_command("verify_audit_chain")  # so the database alone no longer tells
    with pytest.raises(CommandError, match=label):
        call_command("verify_audit_chain", against_pack=[pack.file.path])


def test_a_pack_without_an_anchor_or_with_a_foreign_one(world, tmp_path):
    data = gather(engagement=world["engagement"], as_of=timezone.now(), sample_size=1, sample_seed=1)
    meta = {"pack_id": "KT-NOANCHOR", "as_of": data.as_of, "built_at": data.as_of}
    plain = build_files(data=data, workdir=tmp_path, meta=meta)
    with pytest.raises(CommandError, match="no audit anchor"):
        call_command("verify_audit_chain", against_pack=[str(plain.zip_path)])
    foreign_key = core_signing.private_key(configured_hex="33" * 32, setting="X", secret_key="")
    payload = {"format": "keytrail-audit-anchor/1", "seq": 1, "head_hash": "0" * 64, "head_at": None, "created_at": data.as_of}
    payload |= {"reason": "pack", "reference": "KT-FOREIGN"}
    foreign = payload | {"signature": core_signing.sign(foreign_key, b"x")}
    other = tmp_path / "other"
    other.mkdir()
    built = build_files(data=data, workdir=other, meta=meta | {"pack_id": "KT-FOREIGN", "audit_anchor": foreign})
    report = verify_zip(built.zip_path)
    assert not report.ok and any("audit anchor: signed with an unknown key" in p for p in report.problems)


def test_a_pack_is_not_built_when_its_anchor_cannot_reach_the_configured_target(
    world, grc_lead, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.KEYTRAIL_AUDIT_ANCHOR_TARGET = f"file://{tmp_path}/no-such-directory/anchors.jsonl"
    with pytest.raises(Exception, match="could not append the audit anchor"):
        with django_capture_on_commit_callbacks(execute=True):
            services.pack_request(actor=grc_lead, engagement=world["engagement"], as_of=timezone.now(), sample_size=1)
    pack = world["engagement"].packs.get()
    assert pack.state == pack.State.FAILED and "AnchorTargetError" in pack.error and not pack.file
    assert AuditEvent.objects.filter(event_type="pack.failed", target_id=str(pack.pk)).exists()
