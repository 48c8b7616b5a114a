"""The repeat collection's diff, inside the database (ADR 0014).

Each batch of a unit's records is loaded as (key, fingerprint) into a temporary table (COPY on
PostgreSQL, executemany on SQLite) and joined with the scope's rows in one set-based query that
returns only the new and the changed ones: an unchanged row never leaves the database and is not
touched. Once every batch is in, one statement per table finds what is gone (in the scope, not
seen) and closes it. The same SQL runs on both databases; only the sort collation differs.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from django.db import OperationalError, connection, transaction

from apps.core.bulk import copy_into
from apps.inventory.models import Credential, CredentialEvent, CredentialVersion, Identity, IdentityVersion

SEEN_IDENTITIES = "kt_seen_identity"
SEEN_CREDENTIALS = "kt_seen_credential"
_FETCH = 5000
_IN_LIST = 500  # keys per IN (…) lookup: under SQLite's bound on a statement's parameters
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE for a lock taken with NOWAIT that another transaction holds


def _tables() -> dict[str, str]:
    return {
        "identity": Identity._meta.db_table,
        "identity_version": IdentityVersion._meta.db_table,
        "credential": Credential._meta.db_table,
        "credential_version": CredentialVersion._meta.db_table,
        "credential_event": CredentialEvent._meta.db_table,
        "seen_i": SEEN_IDENTITIES,
        "seen_c": SEEN_CREDENTIALS,
    }


def _lookup(table: str, alias: str, match: str) -> str:
    """The join of one batch's keys to the scope's rows (parameters: source id, scope), by the
    unique natural key's index (source, natural key), one lookup per key. On PostgreSQL a ``LATERAL`` subquery with
    ``LIMIT 1`` (not flattened into a hash join over the whole table, which the planner may
    pick for a temporary table it has no statistics for); SQLite, which has no ``LATERAL``,
    joins by the index on its own."""
    # ``scope || ''``: the scope is checked on the row found, never used to choose an index. Rows
    # written in this transaction are invisible to autovacuum's statistics, so during a first
    # collection the planner believes the table is empty and may pick the (source, scope) index,
    # which scans the whole scope for every key.
    if connection.vendor == "postgresql":
        return (
            f"LATERAL (SELECT {alias}.id, {alias}.fingerprint, {alias}.disappeared_at FROM {table} {alias} "
            f"WHERE {alias}.source_id = %s AND ({alias}.scope || '') = %s AND {match} LIMIT 1) {alias} ON TRUE"
        )
    return f"{table} {alias} ON {alias}.source_id = %s AND ({alias}.scope || '') = %s AND {match}"


def _external_ids_in(table: str, condition: str, params: list[str], external_ids: list[str]) -> set[str]:
    """The ``external_ids`` present in ``table`` (rows also matching ``condition`` with ``params``),
    looked up ``_IN_LIST`` at a time so no statement grows with the batch."""
    found: set[str] = set()
    with connection.cursor() as cursor:
        for start in range(0, len(external_ids), _IN_LIST):
            part = external_ids[start : start + _IN_LIST]
            cursor.execute(
                f"SELECT DISTINCT external_id FROM {table} WHERE {condition}external_id IN ({', '.join(['%s'] * len(part))})",
                [*params, *part],
            )
            found.update(ext for (ext,) in cursor.fetchall())
    return found


class SeenSet:
    """The keys and fingerprints of one unit's records, in temporary tables of this connection.

    Create it inside the apply's transaction; :meth:`drop` it once done (a rolled-back
    transaction takes the tables with it)."""

    def __init__(self, *, source_id: int, scope: str):
        self.source_id = source_id
        self.scope = scope
        self.t = _tables()
        self.analyzed = False
        with connection.cursor() as cursor:
            for table in (SEEN_IDENTITIES, SEEN_CREDENTIALS):
                cursor.execute(f"DROP TABLE IF EXISTS {table}")
            cursor.execute(
                f"CREATE TEMPORARY TABLE {SEEN_IDENTITIES} (batch integer NOT NULL, external_id text NOT NULL, fingerprint text NOT NULL)"
            )
            cursor.execute(
                f"CREATE TEMPORARY TABLE {SEEN_CREDENTIALS} (batch integer NOT NULL, credential_type text NOT NULL, "
                "external_id text NOT NULL, fingerprint text NOT NULL)"
            )
            cursor.execute(f"CREATE INDEX {SEEN_IDENTITIES}_key ON {SEEN_IDENTITIES} (external_id)")
            cursor.execute(f"CREATE INDEX {SEEN_CREDENTIALS}_key ON {SEEN_CREDENTIALS} (credential_type, external_id)")
            cursor.execute(f"CREATE INDEX {SEEN_CREDENTIALS}_batch ON {SEEN_CREDENTIALS} (batch)")
            cursor.execute(f"CREATE INDEX {SEEN_IDENTITIES}_batch ON {SEEN_IDENTITIES} (batch)")

    def identities_seen(self, keys: set[str]) -> set[str]:
        """Which of ``keys`` (external ids) earlier batches already loaded."""
        return _external_ids_in(SEEN_IDENTITIES, "", [], sorted(keys))

    def credentials_seen(self, keys: set[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of ``keys`` (credential type, external id) earlier batches already loaded."""
        by_type: dict[str, list[str]] = {}
        for credential_type, external_id in sorted(keys):
            by_type.setdefault(credential_type, []).append(external_id)
        return {
            (credential_type, ext)
            for credential_type, ids in by_type.items()
            for ext in _external_ids_in(SEEN_CREDENTIALS, "credential_type = %s AND ", [credential_type], ids)
        }

    def identity_changes(self, batch: int, rows: list[tuple[str, str]]) -> list[tuple[str, int | None, bool]]:
        """Load ``rows`` (external id, fingerprint) as batch ``batch``; return the new and changed
        ones as (external id, primary key or None when new, was gone)."""
        copy_into(SEEN_IDENTITIES, ("batch", "external_id", "fingerprint"), ((batch, k, fp) for k, fp in rows))
        t = self.t
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT s.external_id, i.id, CASE WHEN i.disappeared_at IS NULL THEN 0 ELSE 1 END "
                f"FROM {t['seen_i']} s LEFT JOIN {_lookup(t['identity'], 'i', 'i.external_id = s.external_id')} "
                "WHERE s.batch = %s AND (i.id IS NULL OR i.fingerprint <> s.fingerprint OR i.disappeared_at IS NOT NULL)",
                [self.source_id, self.scope, batch],
            )
            return [(ext, pk, bool(gone)) for ext, pk, gone in cursor.fetchall()]

    def _analyze_once(self) -> None:
        """Refresh the planner's statistics of the scope's tables once per unit, after the
        first batch was written. Rows this transaction wrote are invisible to autovacuum, so a
        first collection would otherwise be planned as if the tables were empty (an index on
        (source, type) then serves each key lookup by scanning every credential of the type).
        ANALYZE counts the transaction's own rows and samples a bounded number of them."""
        if self.analyzed or connection.vendor != "postgresql":
            return
        # ANALYZE takes a SHARE UPDATE EXCLUSIVE lock, which conflicts with itself and is held
        # until this unit's transaction ends. A second unit analysing the same tables on another
        # worker would wait for the first unit to commit (its whole remaining stream, API calls
        # included): the workers' large units would run one after the other. So the locks are
        # taken without waiting; when another unit holds them, this batch goes on with the
        # current statistics and the next batch tries again.
        tables = f"{self.t['identity']}, {self.t['credential']}"
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {tables} IN SHARE UPDATE EXCLUSIVE MODE NOWAIT")
                cursor.execute(f"ANALYZE {tables}")
        except OperationalError as exc:
            if getattr(exc.__cause__, "sqlstate", None) != LOCK_NOT_AVAILABLE:
                raise
            return
        self.analyzed = True

    def credential_changes(self, batch: int, rows: list[tuple[str, str, str]]) -> list[tuple[str, str, int | None, bool]]:
        """As :meth:`identity_changes` for (credential type, external id, fingerprint) rows."""
        if batch > 2:
            self._analyze_once()
        copy_into(SEEN_CREDENTIALS, ("batch", "credential_type", "external_id", "fingerprint"), ((batch, *row) for row in rows))
        t = self.t
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT s.credential_type, s.external_id, c.id, CASE WHEN c.disappeared_at IS NULL THEN 0 ELSE 1 END "
                f"FROM {t['seen_c']} s LEFT JOIN "
                f"{_lookup(t['credential'], 'c', 'c.credential_type = s.credential_type AND c.external_id = s.external_id')} "
                "WHERE s.batch = %s AND (c.id IS NULL OR c.fingerprint <> s.fingerprint OR c.disappeared_at IS NOT NULL)",
                [self.source_id, self.scope, batch],
            )
            return [(ctype, ext, pk, bool(gone)) for ctype, ext, pk, gone in cursor.fetchall()]

    def close_gone(self, *, taken_at: datetime, snapshot_id: int) -> tuple[int, int]:
        """Mark every row of the scope that is still present but was not seen as disappeared at
        ``taken_at``, close its open version and (credentials) record its ``disappeared`` event.
        Returns (identities gone, credentials gone)."""
        t = self.t
        at = connection.ops.adapt_datetimefield_value(taken_at)
        scope_args: list[Any] = [self.source_id, self.scope]
        gone_i = (
            f"SELECT i.id FROM {t['identity']} i WHERE i.source_id = %s AND i.scope = %s AND i.disappeared_at IS NULL "
            f"AND NOT EXISTS (SELECT 1 FROM {t['seen_i']} s WHERE s.external_id = i.external_id)"
        )
        gone_c = (
            f"SELECT c.id FROM {t['credential']} c WHERE c.source_id = %s AND c.scope = %s AND c.disappeared_at IS NULL "
            f"AND NOT EXISTS (SELECT 1 FROM {t['seen_c']} s WHERE s.credential_type = c.credential_type AND s.external_id = c.external_id)"
        )
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(f"ANALYZE {SEEN_IDENTITIES}")
                cursor.execute(f"ANALYZE {SEEN_CREDENTIALS}")
            cursor.execute(
                f"UPDATE {t['identity_version']} SET valid_to = %s WHERE valid_to IS NULL AND identity_id IN ({gone_i})", [at, *scope_args]
            )
            cursor.execute(f"UPDATE {t['identity']} SET disappeared_at = %s WHERE id IN ({gone_i})", [at, *scope_args])
            identities = cursor.rowcount
            cursor.execute(
                f"INSERT INTO {t['credential_event']} (credential_id, kind, observed_at, snapshot_id, detail) "
                f"SELECT g.id, %s, %s, %s, '{{}}' FROM ({gone_c}) g ORDER BY g.id",
                [CredentialEvent.Kind.DISAPPEARED.value, at, snapshot_id, *scope_args],
            )
            cursor.execute(
                f"UPDATE {t['credential_version']} SET valid_to = %s WHERE valid_to IS NULL AND credential_id IN ({gone_c})",
                [at, *scope_args],
            )
            cursor.execute(f"UPDATE {t['credential']} SET disappeared_at = %s WHERE id IN ({gone_c})", [at, *scope_args])
            credentials = cursor.rowcount
        return identities, credentials

    def content_sha256(self) -> str:
        """SHA-256 of the sorted ``c:<fingerprint>`` and ``i:<fingerprint>`` lines, read in order
        from the database (the same digest the in-memory apply computed)."""
        collate = ' COLLATE "C"' if connection.vendor == "postgresql" else ""
        digest = hashlib.sha256()
        first = True
        with connection.cursor() as cursor:
            for prefix, table in (("c:", SEEN_CREDENTIALS), ("i:", SEEN_IDENTITIES)):
                cursor.execute(f"SELECT fingerprint FROM {table} ORDER BY fingerprint{collate}")
                while rows := cursor.fetchmany(_FETCH):
                    for (fp,) in rows:
                        digest.update(((prefix if first else "\n" + prefix) + fp).encode())
                        first = False
        return digest.hexdigest()

    def drop(self) -> None:
        with connection.cursor() as cursor:
            for table in (SEEN_IDENTITIES, SEEN_CREDENTIALS):
                cursor.execute(f"DROP TABLE IF EXISTS {table}")
