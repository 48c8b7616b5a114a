"""Fact revisions: a number on each credential and identity that the database changes whenever
anything the evaluation's facts read about it changes (docs/adr/0018-fact-revisions.md).

Kept by triggers, not by the code that writes: a writer added later cannot forget it. The column
``fact_revision`` is not a model field, so the ORM never writes it (a ``save()`` of an instance
read before another write cannot put an old revision back); the evaluation reads it with
:data:`REVISION_SELECT`.

- A credential's revision changes on every insert and on every update that changes a column.
- An identity's revision changes likewise, and whenever one of its credentials (before or after
  the write) is inserted, changed or deleted: it is the revision of the identity's whole group.
- Rows of other tables the facts read about a credential (its deactivation events here; its
  review decisions and remediations in apps.reviews) change the credential's revision, and so its
  identity's, through :func:`touch_credentials_sql`.
- A source's ``enabled`` (the only source column the credential and identity facts depend on:
  which subjects are present) changes the revisions of all its credentials and identities.

Values come from one sequence (PostgreSQL) or one counter row (SQLite): a value is never given
twice over time, so an identity's revision and a credential's are never equal by chance.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DatabaseError, connection

SEQUENCE = "keytrail_fact_revision"  # PostgreSQL sequence; on SQLite a one-row table of that name
COLUMN = "fact_revision"
CREDENTIAL_TABLE = "inventory_credential"
IDENTITY_TABLE = "inventory_identity"

# Every table whose rows the evaluation reads into credential and identity facts (apps.evaluation.facts,
# apps.reviews.facts) and the trigger names that keep the revisions; tests check both against the
# queries the facts actually run and against the database.
FACT_TABLES: dict[str, str] = {
    CREDENTIAL_TABLE: "own revision; its identity's",
    IDENTITY_TABLE: "own revision",
    "inventory_credentialevent": "its credential's",
    "inventory_source": "enabled: its credentials' and identities'",
    "reviews_reviewitem": "its credential's",
    "reviews_campaign": "state, name: its items' credentials'",
    "reviews_remediation": "its credential's",
}


def REVISION_SELECT(table: str) -> dict[str, str]:  # noqa: N802 - reads like a constant at call sites
    """``QuerySet.extra(select=...)`` reading a row's revision."""
    return {COLUMN: f'"{table}"."{COLUMN}"'}


# --- PostgreSQL -----------------------------------------------------------------------------------


# Set (transaction-local) by the collection's apply around its event insert: every event it
# writes is of a credential row it inserted or changed in the same transaction, whose revision the
# row trigger has just renewed, so bumping it again would only write every new credential twice.
ROWS_ALREADY_RENEWED = "keytrail.events_of_renewed_rows"


@contextmanager
def events_of_renewed_rows() -> Iterator[None]:
    """Insert, inside the block, only events of credentials written earlier in this transaction
    (PostgreSQL: their insert trigger then leaves the credentials' revisions alone)."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, 'on', true)", [ROWS_ALREADY_RENEWED])
    try:
        yield
    except DatabaseError:
        # The transaction (or savepoint) is rolled back, and the transaction-local setting with
        # it; a statement here would only hide the error.
        raise
    except BaseException:
        _renewed_rows_off()
        raise
    _renewed_rows_off()


def _renewed_rows_off() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, 'off', true)", [ROWS_ALREADY_RENEWED])


def _pg_touch_function(name: str, target: str, key: str, source_sql: str, guard: str = "") -> str:
    return f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN{guard}
  UPDATE "{target}" SET {COLUMN} = nextval('{SEQUENCE}') WHERE id IN ({source_sql});
  RETURN NULL;
END $$;"""


def pg_touch_triggers(table: str, target: str, key: str, *, prefix: str, insert_guard: str = "") -> list[str]:
    """Statement triggers on ``table`` that change the revision of the ``target`` rows named by the
    column ``key`` of the inserted, updated (before and after) or deleted rows; ``insert_guard``
    (PL/pgSQL) may return early from the insert trigger."""
    new = f"SELECT {key} FROM new_rows WHERE {key} IS NOT NULL"
    old = f"SELECT {key} FROM old_rows WHERE {key} IS NOT NULL"
    sql = [
        _pg_touch_function(f"{prefix}_ins", target, key, new, insert_guard),
        _pg_touch_function(f"{prefix}_upd", target, key, f"{new} UNION {old}"),
        _pg_touch_function(f"{prefix}_del", target, key, old),
    ]
    for event, fn, ref in (
        ("INSERT", "ins", "NEW TABLE AS new_rows"),
        ("UPDATE", "upd", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
        ("DELETE", "del", "OLD TABLE AS old_rows"),
    ):
        sql.append(f'DROP TRIGGER IF EXISTS {prefix}_{fn} ON "{table}"')
        sql.append(
            f'CREATE TRIGGER {prefix}_{fn} AFTER {event} ON "{table}" REFERENCING {ref} FOR EACH STATEMENT EXECUTE FUNCTION {prefix}_{fn}()'
        )
    return sql


def pg_after_update_statement(name: str, table: str, body: str) -> list[str]:
    """A statement-level AFTER UPDATE trigger on ``table`` named ``name`` (its function too) that
    runs ``body`` (PL/pgSQL, which sees the statement's rows as ``old_rows`` and ``new_rows``)."""
    return [
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN{body}\n  RETURN NULL;\nEND $$;",
        f'CREATE TRIGGER {name} AFTER UPDATE ON "{table}" '
        f"REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {name}()",
    ]


def pg_drop_touch_triggers(table: str, *, prefix: str) -> list[str]:
    return [f'DROP TRIGGER IF EXISTS {prefix}_{fn} ON "{table}"' for fn in ("ins", "upd", "del")] + [
        f"DROP FUNCTION IF EXISTS {prefix}_{fn}()" for fn in ("ins", "upd", "del")
    ]


def pg_install() -> list[str]:
    sql = [
        f"CREATE SEQUENCE IF NOT EXISTS {SEQUENCE}",
        f'ALTER TABLE "{CREDENTIAL_TABLE}" ADD COLUMN {COLUMN} bigint NOT NULL DEFAULT 0',
        f'ALTER TABLE "{IDENTITY_TABLE}" ADD COLUMN {COLUMN} bigint NOT NULL DEFAULT 0',
        f"UPDATE \"{CREDENTIAL_TABLE}\" SET {COLUMN} = nextval('{SEQUENCE}')",
        f"UPDATE \"{IDENTITY_TABLE}\" SET {COLUMN} = nextval('{SEQUENCE}')",
        # A row's own revision: on insert, and on an update that changes any column (a new column
        # included: the whole row is compared).
        f"""
CREATE OR REPLACE FUNCTION keytrail_fact_revision_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' OR NEW IS DISTINCT FROM OLD THEN
    NEW.{COLUMN} := nextval('{SEQUENCE}');
  END IF;
  RETURN NEW;
END $$;""",
    ]
    for table in (CREDENTIAL_TABLE, IDENTITY_TABLE):
        sql.append(
            f'CREATE TRIGGER {table}_fact_revision BEFORE INSERT OR UPDATE ON "{table}" '
            "FOR EACH ROW EXECUTE FUNCTION keytrail_fact_revision_row()"
        )
    # A credential's write changes its identity's (old and new) revision: statement triggers, so a
    # collection writing thousands of credentials updates each identity once per statement.
    sql += pg_touch_triggers(CREDENTIAL_TABLE, IDENTITY_TABLE, "identity_id", prefix="inventory_credential_identity_rev")
    # Only updates that changed something (the row trigger above changed its revision).
    sql.append(
        _pg_touch_function(
            "inventory_credential_identity_rev_upd",
            IDENTITY_TABLE,
            "identity_id",
            "SELECT o.identity_id FROM old_rows o JOIN new_rows n ON n.id = o.id "
            f"WHERE n.{COLUMN} <> o.{COLUMN} AND o.identity_id IS NOT NULL "
            f"UNION SELECT n.identity_id FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE n.{COLUMN} <> o.{COLUMN} "
            "AND n.identity_id IS NOT NULL",
        )
    )
    sql += pg_touch_triggers(
        "inventory_credentialevent",
        CREDENTIAL_TABLE,
        "credential_id",
        prefix="inventory_credentialevent_rev",
        insert_guard=f"\n  IF current_setting('{ROWS_ALREADY_RENEWED}', true) = 'on' THEN RETURN NULL; END IF;",
    )
    # A source's enabled: which of its credentials and identities are present.
    sql += pg_after_update_statement(
        "inventory_source_rev_upd",
        "inventory_source",
        f"""
  UPDATE "{CREDENTIAL_TABLE}" SET {COLUMN} = nextval('{SEQUENCE}') WHERE source_id IN (
    SELECT n.id FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE n.enabled IS DISTINCT FROM o.enabled);
  UPDATE "{IDENTITY_TABLE}" SET {COLUMN} = nextval('{SEQUENCE}') WHERE source_id IN (
    SELECT n.id FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE n.enabled IS DISTINCT FROM o.enabled);""",
    )
    return sql


def pg_uninstall() -> list[str]:
    sql = ['DROP TRIGGER IF EXISTS inventory_source_rev_upd ON "inventory_source"', "DROP FUNCTION IF EXISTS inventory_source_rev_upd()"]
    sql += pg_drop_touch_triggers("inventory_credentialevent", prefix="inventory_credentialevent_rev")
    sql += pg_drop_touch_triggers(CREDENTIAL_TABLE, prefix="inventory_credential_identity_rev")
    for table in (CREDENTIAL_TABLE, IDENTITY_TABLE):
        sql.append(f'DROP TRIGGER IF EXISTS {table}_fact_revision ON "{table}"')
        sql.append(f'ALTER TABLE "{table}" DROP COLUMN {COLUMN}')
    sql += ["DROP FUNCTION IF EXISTS keytrail_fact_revision_row()", f"DROP SEQUENCE IF EXISTS {SEQUENCE}"]
    return sql


# --- SQLite (the demo) ----------------------------------------------------------------------------
# Row triggers only. A trigger's own UPDATE of the revision changes it, and the update triggers
# fire only when the revision did not change (``WHEN NEW.fact_revision IS OLD.fact_revision``):
# every write by the application (which never names the column) bumps it, the triggers' own do not
# recurse. SQLite has one writer at a time, so a counter row serves as the sequence.

_NEXT = f"UPDATE {SEQUENCE} SET value = value + 1 WHERE id = 1;"
_VALUE = f"(SELECT value FROM {SEQUENCE} WHERE id = 1)"


def sqlite_touch_credentials(ids_sql: str) -> str:
    """Statements (inside a trigger) that give the credentials ``ids_sql`` selects, and their
    identities, new revisions."""
    return (
        f"{_NEXT} UPDATE {CREDENTIAL_TABLE} SET {COLUMN} = {_VALUE} WHERE id IN ({ids_sql}); "
        f"{_NEXT} UPDATE {IDENTITY_TABLE} SET {COLUMN} = {_VALUE} WHERE id IN "
        f"(SELECT identity_id FROM {CREDENTIAL_TABLE} WHERE id IN ({ids_sql}));"
    )


def sqlite_touch_triggers(table: str, key: str, *, prefix: str) -> list[str]:
    """Row triggers on ``table`` that bump the credentials its column ``key`` names (before and after)."""
    return [
        f"CREATE TRIGGER {prefix}_ins AFTER INSERT ON {table} BEGIN {sqlite_touch_credentials(f'NEW.{key}')} END",
        f"CREATE TRIGGER {prefix}_upd AFTER UPDATE ON {table} BEGIN {sqlite_touch_credentials(f'OLD.{key}, NEW.{key}')} END",
        f"CREATE TRIGGER {prefix}_del AFTER DELETE ON {table} BEGIN {sqlite_touch_credentials(f'OLD.{key}')} END",
    ]


def sqlite_install() -> list[str]:
    ident = f"{_NEXT} UPDATE {IDENTITY_TABLE} SET {COLUMN} = {_VALUE} WHERE id IN"
    sql = [
        f"CREATE TABLE {SEQUENCE} (id integer PRIMARY KEY, value integer NOT NULL)",
        f"ALTER TABLE {CREDENTIAL_TABLE} ADD COLUMN {COLUMN} integer NOT NULL DEFAULT 0",
        f"ALTER TABLE {IDENTITY_TABLE} ADD COLUMN {COLUMN} integer NOT NULL DEFAULT 0",
        f"UPDATE {CREDENTIAL_TABLE} SET {COLUMN} = id",
        f"UPDATE {IDENTITY_TABLE} SET {COLUMN} = id + (SELECT coalesce(max(id), 0) FROM {CREDENTIAL_TABLE})",
        f"INSERT INTO {SEQUENCE} VALUES (1, (SELECT coalesce(max(id), 0) FROM {CREDENTIAL_TABLE}) "
        f"+ (SELECT coalesce(max(id), 0) FROM {IDENTITY_TABLE}))",
        f"CREATE TRIGGER {CREDENTIAL_TABLE}_rev_ins AFTER INSERT ON {CREDENTIAL_TABLE} BEGIN "
        f"{_NEXT} UPDATE {CREDENTIAL_TABLE} SET {COLUMN} = {_VALUE} WHERE id = NEW.id; {ident} (NEW.identity_id); END",
        f"CREATE TRIGGER {CREDENTIAL_TABLE}_rev_upd AFTER UPDATE ON {CREDENTIAL_TABLE} WHEN NEW.{COLUMN} IS OLD.{COLUMN} BEGIN "
        f"{_NEXT} UPDATE {CREDENTIAL_TABLE} SET {COLUMN} = {_VALUE} WHERE id = NEW.id; {ident} (OLD.identity_id, NEW.identity_id); END",
        f"CREATE TRIGGER {CREDENTIAL_TABLE}_rev_del AFTER DELETE ON {CREDENTIAL_TABLE} BEGIN {ident} (OLD.identity_id); END",
        f"CREATE TRIGGER {IDENTITY_TABLE}_rev_ins AFTER INSERT ON {IDENTITY_TABLE} BEGIN {ident} (NEW.id); END",
        f"CREATE TRIGGER {IDENTITY_TABLE}_rev_upd AFTER UPDATE ON {IDENTITY_TABLE} WHEN NEW.{COLUMN} IS OLD.{COLUMN} BEGIN "
        f"{ident} (NEW.id); END",
        *sqlite_touch_triggers("inventory_credentialevent", "credential_id", prefix="inventory_credentialevent_rev"),
        "CREATE TRIGGER inventory_source_rev_upd AFTER UPDATE OF enabled ON inventory_source "
        f"WHEN NEW.enabled IS NOT OLD.enabled BEGIN "
        f"{sqlite_touch_credentials(f'SELECT id FROM {CREDENTIAL_TABLE} WHERE source_id = NEW.id')} "
        f"{ident} (SELECT id FROM {IDENTITY_TABLE} WHERE source_id = NEW.id); END",
    ]
    return sql


def sqlite_uninstall() -> list[str]:
    names = [
        f"{CREDENTIAL_TABLE}_rev_ins",
        f"{CREDENTIAL_TABLE}_rev_upd",
        f"{CREDENTIAL_TABLE}_rev_del",
        f"{IDENTITY_TABLE}_rev_ins",
        f"{IDENTITY_TABLE}_rev_upd",
        "inventory_credentialevent_rev_ins",
        "inventory_credentialevent_rev_upd",
        "inventory_credentialevent_rev_del",
        "inventory_source_rev_upd",
    ]
    sql = [f"DROP TRIGGER IF EXISTS {n}" for n in names]
    sql += [f"ALTER TABLE {t} DROP COLUMN {COLUMN}" for t in (CREDENTIAL_TABLE, IDENTITY_TABLE)]
    return [*sql, f"DROP TABLE IF EXISTS {SEQUENCE}"]


def run(schema_editor, statements: list[str]) -> None:
    with schema_editor.connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def install(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    run(schema_editor, pg_install() if vendor == "postgresql" else sqlite_install())


def uninstall(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    run(schema_editor, pg_uninstall() if vendor == "postgresql" else sqlite_uninstall())
