"""Refuse UPDATE and DELETE of audit events and checkpoints in the database itself, on
PostgreSQL (the checkpoints join the events' triggers of 0002) and on SQLite (the demo
database) alike; and schedule the interval checkpoint.

SQLite has no TRUNCATE (``DELETE FROM`` without WHERE is a DELETE, refused by the same
trigger) and no per-session bypass: a SQLite database's audit trail is reset only by deleting
the file, which the checkpoints written elsewhere (``KEYTRAIL_AUDIT_ANCHOR_TARGET``) and every
pack's anchor then expose."""

from django.db import migrations

TABLES = {"audit_auditevent": "audit events", "audit_auditcheckpoint": "audit checkpoints"}

POSTGRES_FORWARD = """
CREATE TRIGGER audit_checkpoint_no_update_delete BEFORE UPDATE OR DELETE ON audit_auditcheckpoint
    FOR EACH ROW EXECUTE FUNCTION keytrail_audit_append_only();
CREATE TRIGGER audit_checkpoint_no_truncate BEFORE TRUNCATE ON audit_auditcheckpoint
    FOR EACH STATEMENT EXECUTE FUNCTION keytrail_audit_no_truncate();
"""
POSTGRES_BACKWARD = """
DROP TRIGGER IF EXISTS audit_checkpoint_no_update_delete ON audit_auditcheckpoint;
DROP TRIGGER IF EXISTS audit_checkpoint_no_truncate ON audit_auditcheckpoint;
"""


def _sqlite_statements(table: str, label: str) -> list[str]:
    return [
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{label} are append-only ({op} refused)'); END"
        for op in ("UPDATE", "DELETE")
    ]


SCHEDULE = ("keytrail: sign a checkpoint of the audit chain's head", "audit.checkpoint")


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_FORWARD, params=None)
    elif vendor == "sqlite":
        for table, label in TABLES.items():
            for statement in _sqlite_statements(table, label):
                schema_editor.execute(statement, params=None)
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    interval, _ = IntervalSchedule.objects.get_or_create(every=60, period="minutes")
    PeriodicTask.objects.update_or_create(name=SCHEDULE[0], defaults={"task": SCHEDULE[1], "interval": interval, "enabled": True})


def backward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_BACKWARD, params=None)
    elif vendor == "sqlite":
        for table in TABLES:
            for op in ("update", "delete"):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_{op}", params=None)
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=SCHEDULE[0]).delete()


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_checkpoints"), ("django_celery_beat", "0019_alter_periodictasks_options")]
    operations = [migrations.RunPython(forward, backward)]
