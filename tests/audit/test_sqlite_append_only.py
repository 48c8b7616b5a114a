"""The demo database (SQLite) refuses UPDATE and DELETE of audit events and checkpoints in the
database itself, like PostgreSQL does (migration audit 0004). Runs the real migrations into a
fresh SQLite file in a subprocess (the suite's own database is PostgreSQL)."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sqlite_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("sqlite") / "demo.sqlite3"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{path}", "DJANGO_SETTINGS_MODULE": "config.settings.local"}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "audit", "-v0"], cwd=ROOT, env=env, check=True, capture_output=True, timeout=300
    )
    return path


@pytest.mark.parametrize(
    ("table", "insert"),
    [
        (
            "audit_auditevent",
            "INSERT INTO audit_auditevent (seq, occurred_at, actor_label, event_type, target_type, target_id, target_repr, changes, "
            "message, user_agent, request_id, origin, prev_hash, hash) VALUES (1, '2026-01-01 00:00:00', 'x', 'test.event', '', '', '', "
            "'{}', '', '', '', 'system', '0', 'h1')",
        ),
        (
            "audit_auditcheckpoint",
            "INSERT INTO audit_auditcheckpoint (seq, head_hash, created_at, reason, reference, payload, key_id, public_key, signature) "
            "VALUES (1, 'h1', '2026-01-01 00:00:00', 'manual', '', '{}', 'k', 'p', 's')",
        ),
    ],
)
def test_sqlite_refuses_update_and_delete(sqlite_db, table, insert):
    db = sqlite3.connect(sqlite_db)
    try:
        with db:
            db.execute(insert)  # appending is allowed
        for sql in (f"UPDATE {table} SET seq = 2", f"DELETE FROM {table}", f"DELETE FROM {table} WHERE seq = 1"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                with db:
                    db.execute(sql)
        assert db.execute(f"SELECT seq FROM {table}").fetchall() == [(1,)]
    finally:
        db.close()
