"""Rewriting the audit trail the way an attacker with the table's ownership would, for the
checkpoint tests of the audit and evidence suites: each rewrite leaves the hash chain's
links consistent (re-hashed with the app's own digest function)."""

from django.db import connection, transaction

from apps.audit.chain import GENESIS_HASH, digest_of
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record


def record_events(n: int) -> None:
    for i in range(n):
        with transaction.atomic():
            audit_record(event_type="test.event", target=("test.thing", str(i), f"thing {i}"), changes={"n": i})


def tamper(*statements) -> None:
    """Run SQL past the append-only triggers (a superuser's session_replication_role)."""
    with connection.cursor() as cur:
        cur.execute("SET session_replication_role = replica")
        try:
            for sql, params in statements:
                cur.execute(sql, params)
        finally:
            cur.execute("SET session_replication_role = origin")


def rehash_from(seq: int) -> None:
    """Re-chain every event from ``seq`` on with the app's own digest function."""
    rows = list(AuditEvent.objects.order_by("seq"))
    prev = next((r.hash for r in rows if r.seq == seq - 1), GENESIS_HASH)
    for row in rows:
        if row.seq < seq:
            continue
        row.prev_hash = prev
        row.hash = digest_of(row)
        tamper(("UPDATE audit_auditevent SET prev_hash = %s, hash = %s WHERE id = %s", [row.prev_hash, row.hash, row.pk]))
        prev = row.hash


def attack_rehash() -> None:
    """Edit an early row and re-hash everything after it."""
    tamper(("UPDATE audit_auditevent SET message = 'nothing happened here' WHERE seq = 3", []))
    rehash_from(3)


def attack_renumber() -> None:
    """Delete an early row, renumber the rest and re-hash."""
    tamper(("DELETE FROM audit_auditevent WHERE seq = 3", []))
    for pk in AuditEvent.objects.filter(seq__gt=3).order_by("seq").values_list("pk", flat=True):
        tamper(("UPDATE audit_auditevent SET seq = seq - 1 WHERE id = %s", [pk]))
    rehash_from(3)


def attack_truncate() -> None:
    """Delete the newest 20 rows."""
    newest = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True)[19]
    tamper(("DELETE FROM audit_auditevent WHERE seq >= %s", [newest]))


def delete_checkpoints() -> None:
    tamper(("DELETE FROM audit_auditcheckpoint", []))


ATTACKS = [(attack_rehash, "RE-HASHED"), (attack_renumber, "RENUMBERED"), (attack_truncate, "TRUNCATED")]
