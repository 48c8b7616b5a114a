import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.utils import DatabaseError

from apps.audit.chain import GENESIS_HASH, verify_chain
from apps.audit.models import AppendOnlyError, AuditEvent
from apps.audit.services import AuditOutsideTransaction, audit_record

pytestmark = pytest.mark.django_db


def _events(n, actor=None):
    for i in range(n):
        with transaction.atomic():
            audit_record(
                event_type="test.event",
                actor=actor,
                target=("test.thing", str(i), f"thing {i}"),
                changes={"n": [i, i + 1], "text": "<b>é</b>"},
            )
    return list(AuditEvent.objects.order_by("seq"))


def _chain():
    return verify_chain(AuditEvent.objects.order_by("seq"))


def _tamper(sql, params=()):
    """Bypass the append-only triggers the way an attacker with table ownership could."""
    with connection.cursor() as cur:
        cur.execute("SET session_replication_role = replica")  # superuser: skips user triggers
        try:
            cur.execute(sql, params)
        finally:
            cur.execute("SET session_replication_role = origin")


def test_events_link_into_a_chain(grc_lead):
    events = _events(3, actor=grc_lead)  # after the grc_lead's own role event
    assert [e.seq for e in events] == [1, 2, 3, 4]
    assert events[0].prev_hash == GENESIS_HASH
    assert all(later.prev_hash == earlier.hash for earlier, later in zip(events, events[1:], strict=False))
    report = _chain()
    assert report.ok and report.checked == 4 and report.head_hash == events[-1].hash
    assert events[-1].actor_label == grc_lead.username


def test_an_edited_row_is_detected():
    events = _events(4)
    _tamper("UPDATE audit_auditevent SET changes = %s WHERE seq = 2", ['{"n": [0, 99]}'])
    report = _chain()
    assert not report.ok and report.broken_seq == 2 and "modified" in report.reason
    assert report.checked == 1
    assert events  # the first event still verifies


def test_an_edited_actor_is_detected():
    _events(2)
    _tamper("UPDATE audit_auditevent SET actor_label = 'someone-else' WHERE seq = 1")
    assert _chain().broken_seq == 1


def test_a_deleted_row_is_detected():
    _events(4)
    _tamper("DELETE FROM audit_auditevent WHERE seq = 3")
    report = _chain()
    assert not report.ok and report.broken_seq == 4 and "deleted" in report.reason


def test_a_rehashed_row_still_breaks_the_next_link():
    """Editing a row and recomputing its hash does not help: the next row links to the old hash."""
    from apps.audit.chain import digest_of

    _events(3)
    _tamper("UPDATE audit_auditevent SET message = 'rewritten' WHERE seq = 2")
    row = AuditEvent.objects.get(seq=2)
    _tamper("UPDATE audit_auditevent SET hash = %s WHERE seq = 2", [digest_of(row)])
    report = _chain()
    assert not report.ok and report.broken_seq == 3


def test_deleting_the_newest_rows_is_detected_against_a_recorded_head():
    events = _events(3)
    head = events[-1].hash
    _tamper("DELETE FROM audit_auditevent WHERE seq = 3")
    assert _chain().ok  # without an anchor the shorter chain is consistent ...
    report = verify_chain(AuditEvent.objects.order_by("seq"), expect_head=head)
    assert not report.ok and "head" in report.reason  # ... with one it is not


def test_command_reports_the_first_broken_link(capsys):
    _events(3)
    call_command("verify_audit_chain")
    assert "intact: 3 events" in capsys.readouterr().out
    _tamper("UPDATE audit_auditevent SET event_type = 'x' WHERE seq = 2")
    with pytest.raises(CommandError, match="#2 was modified"):
        call_command("verify_audit_chain")


def test_model_and_queryset_refuse_update_and_delete():
    event = _events(1)[0]
    event.message = "changed"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.update(message="x")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()


@pytest.mark.parametrize("sql", ["UPDATE audit_auditevent SET message = 'x'", "DELETE FROM audit_auditevent"])
def test_database_refuses_raw_update_and_delete(sql):
    _events(1)
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql)
    assert AuditEvent.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_events_must_be_written_inside_the_changes_transaction():
    with pytest.raises(AuditOutsideTransaction):
        audit_record(event_type="test.event")
    assert AuditEvent.objects.count() == 0


def test_event_rolls_back_with_the_change():
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            audit_record(event_type="test.event")
            raise RuntimeError("the change failed")
    assert AuditEvent.objects.count() == 0
    assert _chain().ok
