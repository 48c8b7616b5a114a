"""On PostgreSQL, refuse UPDATE, DELETE and TRUNCATE of audit events in the database itself,
so that even code that bypasses the model cannot rewrite history. (SQLite, the demo
database, relies on the model and the hash chain.)"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION keytrail_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_event_no_update_delete BEFORE UPDATE OR DELETE ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION keytrail_audit_append_only();
CREATE OR REPLACE FUNCTION keytrail_audit_no_truncate() RETURNS trigger AS $$
BEGIN
    -- Test databases are flushed between transactional tests; they opt in per connection.
    IF current_setting('keytrail.allow_truncate', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'audit events are append-only (TRUNCATE refused)';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION keytrail_audit_no_truncate();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS audit_event_no_update_delete ON audit_auditevent;
DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_auditevent;
DROP FUNCTION IF EXISTS keytrail_audit_append_only();
DROP FUNCTION IF EXISTS keytrail_audit_no_truncate();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]
    operations = [migrations.RunPython(forward, backward)]
