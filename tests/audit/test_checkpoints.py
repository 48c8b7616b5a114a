"""Signed checkpoints of the audit chain: the three rewrites the hash chain alone cannot see
(re-hash from an edited row, delete a row and renumber, drop the newest rows) are caught
against stored checkpoints, against a pack's anchor after the checkpoints were deleted too,
and against an anchors file; anchors signed by another key or altered are refused."""

import importlib
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.utils import DatabaseError

from apps.audit.chain import verify_chain
from apps.audit.checkpoints import AnchorInvalid, anchor_check, anchor_of, checkpoint_create, checkpoint_if_moved
from apps.audit.models import AppendOnlyError, AuditCheckpoint, AuditEvent
from apps.audit.tasks import checkpoint as checkpoint_task
from apps.core import signing
from tests.support.audit import ATTACKS, attack_rehash, attack_truncate, delete_checkpoints, rehash_from, tamper
from tests.support.audit import record_events as _events

pytestmark = pytest.mark.django_db


def test_a_checkpoint_signs_the_head_with_a_key_outside_the_database():
    _events(3)
    head = AuditEvent.objects.order_by("-seq").first()
    checkpoint = checkpoint_create(reason=AuditCheckpoint.Reason.MANUAL)
    assert (checkpoint.seq, checkpoint.head_hash, checkpoint.head_at) == (3, head.hash, head.occurred_at)
    anchor = anchor_of(checkpoint)
    checked = anchor_check(anchor)
    assert (checked.seq, checked.head_hash) == (3, head.hash)
    forged = {**anchor, "seq": 2}
    with pytest.raises(AnchorInvalid, match="bad signature"):
        anchor_check(forged)
    other_key = signing.private_key(configured_hex="11" * 32, setting="X", secret_key="")
    with pytest.raises(AnchorInvalid, match="unknown key"):
        anchor_check(anchor, public_key=signing.public_hex(other_key))
    resigned = {**forged, "signature": signing.sign(other_key, b"anything")}
    with pytest.raises(AnchorInvalid, match="unknown key"):  # the key an anchor names is never trusted on its own
        anchor_check(resigned)


def test_its_own_key_when_configured(settings):
    _events(1)
    settings.KEYTRAIL_AUDIT_SIGNING_KEY = "22" * 32
    anchor = anchor_of(checkpoint_create(reason=AuditCheckpoint.Reason.MANUAL))
    assert anchor["signature"]["public_key"] == signing.public_hex(signing.private_key(configured_hex="22" * 32, setting="", secret_key=""))
    anchor_check(anchor)
    settings.KEYTRAIL_AUDIT_SIGNING_KEY = "abc"
    with pytest.raises(ValueError, match="KEYTRAIL_AUDIT_SIGNING_KEY must be 32 bytes"):
        checkpoint_create(reason=AuditCheckpoint.Reason.MANUAL)


def _schedule_only(migration, apps, editor):
    """The migration's forward step without its triggers (they survive a truncation)."""
    interval, _ = apps.get_model("django_celery_beat", "IntervalSchedule").objects.get_or_create(every=60, period="minutes")
    apps.get_model("django_celery_beat", "PeriodicTask").objects.update_or_create(
        name=migration.SCHEDULE[0], defaults={"task": migration.SCHEDULE[1], "interval": interval, "enabled": True}
    )


def test_the_interval_task_signs_only_a_head_that_moved():
    from celery import current_app
    from django_celery_beat.models import PeriodicTask

    beat = PeriodicTask.objects.filter(task="audit.checkpoint").first()  # scheduled by migration audit 0004
    if beat is None:
        # A transactional test elsewhere in the run truncated the tables the migration filled:
        # schedule it again exactly as the migration does.
        from django.apps import apps

        migration = importlib.import_module("apps.audit.migrations.0004_append_only_everywhere")
        with connection.schema_editor() as editor:
            _schedule_only(migration, apps, editor)
        beat = PeriodicTask.objects.get(task="audit.checkpoint")
    assert beat.enabled and (beat.interval.every, beat.interval.period) == (60, "minutes")
    assert "audit.checkpoint" in current_app.tasks
    _events(2)
    first = checkpoint_task()
    assert first is not None
    assert checkpoint_task() is None  # nothing new
    _events(1)
    second = checkpoint_task()
    assert second is not None and AuditCheckpoint.objects.get(pk=second).seq == 3
    assert checkpoint_if_moved(reason="interval") is None


@pytest.mark.parametrize(("attack", "label"), ATTACKS, ids=["rehash", "renumber", "truncate"])
def test_each_rewrite_passes_the_links_but_not_the_checkpoints(attack, label):
    _events(30)
    checkpoint_create(reason=AuditCheckpoint.Reason.MANUAL)
    call_command("verify_audit_chain")
    attack()
    # The rewrite is perfect as far as the links go: that is the hole the checkpoints close.
    assert verify_chain(AuditEvent.objects.order_by("seq")).ok
    with pytest.raises(CommandError, match=label):
        call_command("verify_audit_chain")


def test_matches_up_to_names_the_last_good_anchor(capsys):
    _events(10)
    checkpoint_create(reason=AuditCheckpoint.Reason.MANUAL)
    _events(10)
    checkpoint_create(reason=AuditCheckpoint.Reason.MANUAL)
    tamper(("UPDATE audit_auditevent SET message = 'x' WHERE seq = 15", []))
    rehash_from(15)
    with pytest.raises(CommandError):
        call_command("verify_audit_chain")
    assert "matches the anchors up to #10" in capsys.readouterr().err


def test_a_forged_checkpoint_row_is_refused():
    _events(3)
    checkpoint = checkpoint_create(reason=AuditCheckpoint.Reason.MANUAL)
    attack_rehash()
    # The attacker rewrites the checkpoint to the new head too, but cannot sign it.
    new_head = AuditEvent.objects.get(seq=3).hash
    payload = json.loads(checkpoint.payload) | {"head_hash": new_head}
    tamper(
        (
            "UPDATE audit_auditcheckpoint SET head_hash = %s, payload = %s WHERE id = %s",
            [new_head, json.dumps(payload, sort_keys=True, separators=(",", ":")), checkpoint.pk],
        )
    )
    with pytest.raises(CommandError, match="bad signature"):
        call_command("verify_audit_chain")


def test_expect_head_is_a_head_recorded_earlier_not_the_current_one():
    _events(3)
    recorded = AuditEvent.objects.get(seq=3).hash
    _events(5)  # the chain moves on: the recorded head is still in it
    call_command("verify_audit_chain", expect_head=recorded)
    call_command("verify_audit_chain", expect_head=f"3:{recorded}")
    with pytest.raises(CommandError, match="not in the chain at #4"):
        call_command("verify_audit_chain", expect_head=f"4:{recorded}")
    attack_rehash()
    with pytest.raises(CommandError, match="expected head"):
        call_command("verify_audit_chain", expect_head=recorded)


def test_an_anchors_file_survives_deleting_the_checkpoints(settings, tmp_path):
    target = tmp_path / "anchors.jsonl"
    settings.KEYTRAIL_AUDIT_ANCHOR_TARGET = f"file://{target}"
    _events(25)
    checkpoint_create(reason=AuditCheckpoint.Reason.MANUAL)
    _events(1)
    checkpoint_create(reason=AuditCheckpoint.Reason.MANUAL)
    lines = target.read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[1])["seq"] == 26
    call_command("verify_audit_chain", anchors=[str(target)])
    attack_truncate()
    delete_checkpoints()
    call_command("verify_audit_chain")  # nothing left in the database to catch it ...
    with pytest.raises(CommandError, match="TRUNCATED"):  # ... the file does
        call_command("verify_audit_chain", anchors=[str(target)])


def test_a_relative_anchor_path_is_refused(settings):
    from apps.audit.anchor_targets import AnchorTargetError

    settings.KEYTRAIL_AUDIT_ANCHOR_TARGET = "anchors.jsonl"
    with pytest.raises(AnchorTargetError, match="absolute"):
        checkpoint_create(reason=AuditCheckpoint.Reason.MANUAL)
    assert AuditCheckpoint.objects.count() == 1  # stored all the same: the caller decides


def test_checkpoints_are_append_only():
    _events(1)
    checkpoint = checkpoint_create(reason=AuditCheckpoint.Reason.MANUAL)
    with pytest.raises(AppendOnlyError):
        checkpoint.save()
    with pytest.raises(AppendOnlyError):
        checkpoint.delete()
    with pytest.raises(AppendOnlyError):
        AuditCheckpoint.objects.all().delete()
    for sql in ("UPDATE audit_auditcheckpoint SET seq = 0", "DELETE FROM audit_auditcheckpoint"):
        with pytest.raises(DatabaseError, match="append-only"):
            with transaction.atomic(), connection.cursor() as cur:
                cur.execute(sql)
    assert AuditCheckpoint.objects.count() == 1


@pytest.mark.parametrize(
    ("setting", "value", "error"),
    [
        ("KEYTRAIL_AUDIT_SIGNING_KEY", "ab", "keytrail.E201"),
        ("KEYTRAIL_AUDIT_SIGNING_KEY", "zz" * 32, "keytrail.E201"),
        ("KEYTRAIL_AUDIT_ANCHOR_TARGET", "anchors.jsonl", "keytrail.E202"),
        ("KEYTRAIL_AUDIT_ANCHOR_TARGET", "s3:///prefix/", "keytrail.E202"),
    ],
)
def test_malformed_checkpoint_settings_fail_the_system_check(settings, setting, value, error):
    from django.core.checks import run_checks

    assert not [e for e in run_checks() if e.id.startswith("keytrail.E20")]
    setattr(settings, setting, value)
    assert [e.id for e in run_checks() if e.id.startswith("keytrail.E20")] == [error]
