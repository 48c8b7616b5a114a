"""Judging the inventory chunk by chunk for an evaluation (``services.evaluation_run``): fingerprints,
carried subjects copied inside the database, judged ones written with COPY
(docs/adr/0013-incremental-evaluation.md)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Count
from django.utils.module_loading import import_string

from apps.catalog.models import CatalogVersion
from apps.core.bulk import bulk_insert, copy_escape, copy_lines, copy_needs_escape, json_text
from apps.core.rows import fast_rows, where_id_in
from apps.evaluation.engine import Tally, run_rules
from apps.evaluation.incremental import credential_fingerprints, identity_fingerprint, stored_until
from apps.evaluation.models import Evaluation, Finding, Status, SubjectCarry
from apps.evaluation.rules.base import FOREVER
from apps.inventory.fact_revision import COLUMN as REVISION
from apps.inventory.fact_revision import CREDENTIAL_TABLE, IDENTITY_TABLE

logger = logging.getLogger(__name__)


# Identities (with their credentials) or credentials of no identity read, judged and written at a time.
CHUNK_SIZE = 5000

FINDING_COLUMNS = [
    "evaluation_id",
    "rule_id",
    "status",
    "severity",
    "subject_type",
    "source_id",
    "credential_id",
    "identity_id",
    "snapshot_id",
    "subject_label",
    "reason",
    "data",
    "exception_id",
    "owner",
    "failing_since",
    "due_on",
]
CARRY_COLUMNS = ["evaluation_id", "subject_type", "subject_id", "fingerprint", "valid_until", "populations", "fact_revision"]
CARRIED_TABLE = "evaluation_carried_now"  # temporary, per connection
SCOPES_TABLE = "evaluation_scope_snapshot_now"  # temporary, per connection: each scope's latest snapshot


def catalog_versions() -> list:
    return list(CatalogVersion.objects.order_by("catalog_id", "version").values_list("catalog_id", "version", "sha256"))


def previous_evaluation(evaluation: Evaluation) -> Evaluation | None:
    """The evaluation that succeeded last before ``evaluation``: its failing findings give
    ``failing_since``, and (with the same key) its verdicts can be carried."""
    return (
        Evaluation.objects.filter(state=Evaluation.State.SUCCEEDED, started_at__lte=evaluation.started_at)
        .exclude(pk=evaluation.pk)
        .order_by("-started_at", "-pk")
        .first()
    )


class ChunkJudge:
    """Judges the inventory chunk by chunk and writes each chunk's findings and carry rows at once
    (COPY on PostgreSQL): a subject whose fingerprint and verdicts' time limit allow it keeps the
    basis evaluation's findings (copied inside the database), every other one is judged."""

    # Findings and carry rows as COPY text lines formatted here (PostgreSQL); False: as rows adapted
    # value by value (bulk_insert), the reference the tests compare the stored rows with.
    copy_text = True

    def __init__(self, evaluation, rules, ctx, matcher, snapshot_of, policy, previous, basis):
        self.evaluation, self.rules, self.ctx, self.matcher = evaluation, rules, ctx, matcher
        self.snapshot_of, self.policy, self.previous, self.basis = snapshot_of, policy, previous, basis
        self.population: Counter[str] = Counter()
        self.carried_populations: Counter[str] = Counter()
        self.credentials = self.identities = self.carried = self.judged = self.skipped = 0
        self._carried_table = False

    def sources(self, sources) -> None:
        """Sources are few and read coverage that changes with every collection: always judged."""
        result = run_rules(rules=self.rules, subjects={"source": sources}, ctx=self.ctx, matcher=self.matcher)
        self._add(result)
        since = self._since("source", "source_id", [s.id for s in sources])
        self._write_findings(result.findings, since)

    def chunk(self, chunk) -> None:
        self.credentials += len(chunk.credentials)
        self.identities += len(chunk.identities)
        identity_prints = {i.id: identity_fingerprint(i) for i in chunk.identities}
        prints = {("credential", cid): p for cid, p in credential_fingerprints(chunk.credentials, identity_prints).items()}
        prints.update((("identity", iid), p) for iid, p in identity_prints.items())
        previous = self._basis_carry(chunk) if self.basis is not None else {}
        now = self.ctx.now
        carried: set[tuple[str, int]] = set()
        for key, fingerprint in prints.items():
            before = previous.get(key)
            if before is not None and before[0] == fingerprint and (before[1] is None or now < before[1]):
                carried.add(key)
        judged_credentials = [c for c in chunk.credentials if ("credential", c.id) not in carried]
        judged_identities = [i for i in chunk.identities if ("identity", i.id) not in carried]
        holds: dict[tuple[str, int], list] = {}
        result = run_rules(
            rules=self.rules,
            subjects={"credential": judged_credentials, "identity": judged_identities},
            ctx=self.ctx,
            matcher=self.matcher,
            holds=holds,
        )
        self._add(result)
        since = self._since("credential", "credential_id", [c.id for c in judged_credentials])
        since.update(self._since("identity", "identity_id", [i.id for i in judged_identities]))
        self._write_findings(result.findings, since)
        pk, revisions = self.evaluation.pk, chunk.revisions
        # The same values as COPY text lines on PostgreSQL (kinds and fingerprints need no escaping).
        if self.copy_text and connection.vendor == "postgresql":
            copy_lines(
                SubjectCarry,
                CARRY_COLUMNS,
                (
                    f"{pk}\t{kind}\t{sid}\t{prints[(kind, sid)]}\t{_NULL if until == FOREVER else until}\t{bits:x}"
                    f"\t{_text(revisions.get((kind, sid)))}\n"
                    for (kind, sid), (until, bits) in holds.items()
                ),
            )
        else:
            bulk_insert(
                SubjectCarry,
                CARRY_COLUMNS,
                (
                    (pk, kind, sid, prints[(kind, sid)], stored_until(until), format(bits, "x"), revisions.get((kind, sid)))
                    for (kind, sid), (until, bits) in holds.items()
                ),
            )
        self.judged += len(holds)
        self.carried += len(carried)
        if carried:
            self._note_carried(chunk, carried)

    def _add(self, result) -> None:
        for rule_id, tally in result.tallies.items():
            self.population[rule_id] += tally.population

    def _basis_carry(self, chunk) -> dict[tuple[str, int], tuple[str, datetime | None, str]]:
        found = {}
        assert self.basis is not None
        for kind, ids in (("credential", [c.id for c in chunk.credentials]), ("identity", [i.id for i in chunk.identities])):
            if not ids:
                continue
            rows = where_id_in(SubjectCarry.objects.filter(evaluation_id=self.basis.pk, subject_type=kind), "subject_id", ids)
            for sid, fingerprint, until, populations in fast_rows(rows, ("subject_id", "fingerprint", "valid_until", "populations")):
                found[(kind, sid)] = (fingerprint, until, populations)
        return found

    def _since(self, subject_type: str, column: str, ids: list[int]) -> dict[tuple, datetime]:
        """(rule, subject type, source, credential, identity) -> since when it has failed, for each
        failing finding of the previous evaluation on these subjects: a finding that still fails
        keeps its date (and so its due date); one that passed or was excepted in between starts again."""
        previous = self.previous
        if previous is None or not ids:
            return {}
        which = where_id_in(Finding.objects.filter(evaluation=previous, status=Status.FAIL, subject_type=subject_type), column, ids)
        rows = fast_rows(which.order_by(), ("rule_id", "subject_type", "source_id", "credential_id", "identity_id", "failing_since"))
        return {(r, t, s, c, i): since or previous.as_of for r, t, s, c, i, since in rows}

    def _write_findings(self, findings, since) -> None:
        if self.copy_text and connection.vendor == "postgresql":
            copy_lines(Finding, FINDING_COLUMNS, self._finding_lines(findings, since))
        else:
            bulk_insert(Finding, FINDING_COLUMNS, self._finding_rows(findings, since))

    def _finding_rows(self, findings, since) -> Iterator[tuple]:
        """Each finding's row, values in ``FINDING_COLUMNS`` order (the reference for :meth:`_finding_lines`)."""
        evaluation, snapshot_of, policy = self.evaluation, self.snapshot_of, self.policy
        for f in findings:
            yield (
                evaluation.pk,
                f.rule_id,
                f.status,
                f.severity,
                f.subject_type,
                f.source_id,
                f.credential_id,
                f.identity_id,
                snapshot_of.get((f.source_id, f.scope)),
                f.subject_label,
                f.reason,
                f.data,
                f.exception_id,
                f.owner[:512],
                *_queue(evaluation, f, since, policy),
            )

    def _finding_lines(self, findings, since) -> Iterator[str]:
        """The rows of :meth:`_finding_rows` as COPY text lines, each value formatted as psycopg's
        text dumpers format it (``str()``; JSON as :func:`json_text`), so the stored findings are
        the same, at a fraction of the CPU (``tests/evaluation/test_finding_copy.py`` compares them)."""
        evaluation, snapshot_of, policy = self.evaluation, self.snapshot_of, self.policy
        pk, as_of = evaluation.pk, evaluation.as_of
        heads: dict[tuple[str, str, str, str], str] = {}  # the constant leading columns, formatted once
        due: dict[str, timedelta] = {}
        queues: dict[tuple[datetime, str], str] = {}
        fail = Status.FAIL.value
        for f in findings:
            rule_id, status, severity, subject_type = key = f.rule_id, f.status, f.severity, f.subject_type
            head = heads.get(key)
            if head is None:
                head = heads[key] = "\t".join([str(pk), *(copy_escape(v) for v in key)])
            source_id, credential_id, identity_id = f.source_id, f.credential_id, f.identity_id
            snapshot = snapshot_of.get((source_id, f.scope))
            label, reason, data, owner = f.subject_label, f.reason, json_text(f.data), f.owner[:512]
            if copy_needs_escape(f"{label}{reason}{data}{owner}"):
                label, reason, data, owner = copy_escape(label), copy_escape(reason), copy_escape(data), copy_escape(owner)
            if status == fail:
                first = since.get((rule_id, subject_type, source_id, credential_id, identity_id), as_of)
                # Formatting an aware datetime costs microseconds, and most failing findings share a
                # few "since" instants (this evaluation's, the previous ones'): formatted once each
                # (UTC only: equal instants in other zones format differently).
                queue = queues.get((first, severity)) if first.tzinfo is UTC else None
                if queue is None:
                    days = due.get(severity)
                    if days is None:
                        days = due[severity] = timedelta(days=policy.finding_due_days(severity))
                    queue = f"{first}\t{first.astimezone(UTC).date() + days}"
                    if first.tzinfo is UTC:
                        queues[(first, severity)] = queue
            else:
                queue = f"{_NULL}\t{_NULL}"
            yield (
                f"{head}\t{_text(source_id)}\t{_text(credential_id)}\t{_text(identity_id)}\t{_text(snapshot)}\t{label}\t{reason}\t"
                f"{data}\t{_text(f.exception_id)}\t{owner}\t{queue}\n"
            )

    def _note_carried(self, chunk, carried: set[tuple[str, int]]) -> None:
        """Note the carried subjects (with their scope's latest snapshot) in a temporary table: one
        set-based copy at the end (:meth:`copy_carried`) brings their findings and carry rows over."""
        revisions = chunk.revisions
        rows = [
            ("credential", c.id, self.snapshot_of.get((c.source_id, c.scope)), revisions.get(("credential", c.id)))
            for c in chunk.credentials
            if ("credential", c.id) in carried
        ]
        rows += [
            ("identity", i.id, self.snapshot_of.get((i.source_id, "aws_iam")), revisions.get(("identity", i.id)))
            for i in chunk.identities
            if ("identity", i.id) in carried
        ]
        with connection.cursor() as cursor:
            self._create_carried_table(cursor)
            if connection.vendor == "postgresql":
                with cursor.cursor.copy(f"COPY {CARRIED_TABLE} (subject_type, subject_id, snapshot_id, fact_revision) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                cursor.executemany(f"INSERT INTO {CARRIED_TABLE} VALUES (%s, %s, %s, %s)", rows)  # noqa: S608 - a constant name

    def _create_carried_table(self, cursor) -> None:
        if not self._carried_table:
            cursor.execute(f"DROP TABLE IF EXISTS {CARRIED_TABLE}")  # left by an evaluation that failed on this connection
            cursor.execute(
                f"CREATE TEMPORARY TABLE {CARRIED_TABLE} (subject_type varchar(16), subject_id bigint, snapshot_id bigint, fact_revision bigint)"
            )
            self._carried_table = True

    def skip_unchanged(self, source_ids: list[int]) -> str | None:
        """Note, without reading their facts, the subjects whose verdicts the basis evaluation's carry
        rows still give (docs/adr/0018-fact-revisions.md): an identity whose revision is the
        one its carry row was written with, whose present credentials' carry rows were written with
        that same revision, none of whose verdicts' time limit has passed and none of whose
        credentials has facts that change with time alone (an open remediation), with all its
        credentials; a credential of no present identity likewise with its own revision. Any write
        to a table the facts read changes the revision (database triggers), so these subjects' facts
        are the ones their carry rows were judged on. Returns the table naming them (to be left
        unread by :func:`apps.evaluation.facts.iter_fact_chunks`), or None with no basis."""
        if self.basis is None or not source_ids:
            return None
        identity_table, credential_table, carry_table = IDENTITY_TABLE, CREDENTIAL_TABLE, SubjectCarry._meta.db_table
        clocked = import_string(settings.KEYTRAIL_REVIEW_FACTS_CLOCKED)()
        sources = ", ".join(str(int(s)) for s in source_ids)
        valid = "(k.valid_until IS NULL OR k.valid_until > %(now)s)"
        params = {"basis": self.basis.pk, "now": self.ctx.now}
        outermost = not connection.in_atomic_block
        _plannable(identity_table, credential_table)
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                if outermost:  # one snapshot for the statements below
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                cursor.execute("SET LOCAL jit = off")  # compiling these joins took longer than running them
            self._create_carried_table(cursor)
            cursor.execute(f"DROP TABLE IF EXISTS {SCOPES_TABLE}")
            cursor.execute(f"CREATE TEMPORARY TABLE {SCOPES_TABLE} (source_id bigint, scope varchar(400), snapshot_id bigint)")
            cursor.executemany(
                f"INSERT INTO {SCOPES_TABLE} VALUES (%s, %s, %s)",  # noqa: S608 - a constant name
                [(source_id, scope, snapshot) for (source_id, scope), snapshot in self.snapshot_of.items()],
            )
            cursor.execute(
                f"INSERT INTO {CARRIED_TABLE} (subject_type, subject_id, snapshot_id, fact_revision) "  # noqa: S608 - constant names
                f"SELECT 'identity', i.id, s.snapshot_id, i.{REVISION} FROM \"{identity_table}\" i "
                f"JOIN \"{carry_table}\" k ON k.evaluation_id = %(basis)s AND k.subject_type = 'identity' AND k.subject_id = i.id "
                f"LEFT JOIN {SCOPES_TABLE} s ON s.source_id = i.source_id AND s.scope = 'aws_iam' "
                f"WHERE i.source_id IN ({sources}) AND i.disappeared_at IS NULL AND k.{REVISION} = i.{REVISION} AND {valid} "
                f'AND NOT EXISTS (SELECT 1 FROM "{credential_table}" c '
                f"LEFT JOIN \"{carry_table}\" k ON k.evaluation_id = %(basis)s AND k.subject_type = 'credential' AND k.subject_id = c.id "
                f"WHERE c.identity_id = i.id AND c.source_id IN ({sources}) AND c.disappeared_at IS NULL "
                f"AND (k.{REVISION} IS NULL OR k.{REVISION} <> i.{REVISION} OR NOT {valid} OR c.id IN ({clocked})))",
                params,
            )
            if connection.vendor == "postgresql":  # planned as a hash join on the identities just noted, not a loop
                cursor.execute(f"ANALYZE {CARRIED_TABLE}")
            cursor.execute(
                f"INSERT INTO {CARRIED_TABLE} (subject_type, subject_id, snapshot_id, fact_revision) "  # noqa: S608 - constant names
                f"SELECT 'credential', c.id, s.snapshot_id, t.fact_revision FROM \"{credential_table}\" c "
                f"JOIN {CARRIED_TABLE} t ON t.subject_type = 'identity' AND t.subject_id = c.identity_id "
                f"LEFT JOIN {SCOPES_TABLE} s ON s.source_id = c.source_id AND s.scope = c.scope "
                f"WHERE c.source_id IN ({sources}) AND c.disappeared_at IS NULL"
            )
            cursor.execute(
                f"INSERT INTO {CARRIED_TABLE} (subject_type, subject_id, snapshot_id, fact_revision) "  # noqa: S608 - constant names
                f"SELECT 'credential', c.id, s.snapshot_id, c.{REVISION} FROM \"{credential_table}\" c "
                f"JOIN \"{carry_table}\" k ON k.evaluation_id = %(basis)s AND k.subject_type = 'credential' AND k.subject_id = c.id "
                f"LEFT JOIN {SCOPES_TABLE} s ON s.source_id = c.source_id AND s.scope = c.scope "
                f"WHERE c.source_id IN ({sources}) AND c.disappeared_at IS NULL AND k.{REVISION} = c.{REVISION} AND {valid} "
                f"AND NOT c.id IN ({clocked}) "
                f'AND (c.identity_id IS NULL OR NOT EXISTS (SELECT 1 FROM "{identity_table}" i '
                f"WHERE i.id = c.identity_id AND i.source_id IN ({sources}) AND i.disappeared_at IS NULL))",
                params,
            )
            cursor.execute(f"DROP TABLE {SCOPES_TABLE}")
            cursor.execute(f"SELECT subject_type, count(*) FROM {CARRIED_TABLE} GROUP BY subject_type")  # noqa: S608 - a constant name
            counts = dict(cursor.fetchall())
        skipped_credentials, skipped_identities = counts.get("credential", 0), counts.get("identity", 0)
        self.credentials += skipped_credentials
        self.identities += skipped_identities
        self.carried += skipped_credentials + skipped_identities
        self.skipped = skipped_credentials + skipped_identities
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {CARRIED_TABLE}")
        return CARRIED_TABLE

    def copy_carried(self) -> None:
        """The carried subjects' findings and carry rows, copied from the basis evaluation inside the
        database in one statement each (a join on the temporary table); each finding points at its
        scope's latest snapshot, as a judged one does."""
        if not self._carried_table:
            return
        assert self.basis is not None
        finding_table, carry_table = Finding._meta.db_table, SubjectCarry._meta.db_table
        copied = ", ".join(f"f.{c}" for c in FINDING_COLUMNS[1:8] + FINDING_COLUMNS[9:])
        into = ", ".join(FINDING_COLUMNS[1:8] + FINDING_COLUMNS[9:])
        carry = ", ".join(CARRY_COLUMNS[1:-1])
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(f"ANALYZE {CARRIED_TABLE}")
            for kind, column in (("credential", "credential_id"), ("identity", "identity_id")):
                cursor.execute(
                    f'INSERT INTO "{finding_table}" (evaluation_id, snapshot_id, {into}) '  # noqa: S608 - constant names only
                    f'SELECT %s, t.snapshot_id, {copied} FROM "{finding_table}" f '
                    f"JOIN {CARRIED_TABLE} t ON t.subject_type = %s AND t.subject_id = f.{column} "
                    f"WHERE f.evaluation_id = %s AND f.subject_type = %s",
                    [self.evaluation.pk, kind, self.basis.pk, kind],
                )
            # With the revision the subject's facts were read (or found unchanged) at.
            cursor.execute(
                f'INSERT INTO "{carry_table}" (evaluation_id, {carry}, fact_revision) '  # noqa: S608 - constant names only
                f'SELECT %s, {", ".join("c." + c for c in CARRY_COLUMNS[1:-1])}, t.fact_revision FROM "{carry_table}" c '
                f"JOIN {CARRIED_TABLE} t ON t.subject_type = c.subject_type AND t.subject_id = c.subject_id "
                f"WHERE c.evaluation_id = %s",
                [self.evaluation.pk, self.basis.pk],
            )
            # The carried subjects' populations, for the rules' tallies.
            cursor.execute(
                f'SELECT c.populations, count(*) FROM "{carry_table}" c '  # noqa: S608 - constant names only
                f"JOIN {CARRIED_TABLE} t ON t.subject_type = c.subject_type AND t.subject_id = c.subject_id "
                f"WHERE c.evaluation_id = %s GROUP BY c.populations",
                [self.evaluation.pk],
            )
            for populations, count in cursor.fetchall():
                self.carried_populations[populations] += count
            cursor.execute(f"DROP TABLE {CARRIED_TABLE}")
        self._carried_table = False

    def refresh_statistics(self) -> None:
        """Give the planner statistics on the findings and carry rows just written (PostgreSQL).
        Without them (autovacuum does not see rows until their transaction commits, and may be
        late or off) the next evaluation's per-chunk lookups of these rows (:meth:`_since`,
        :meth:`_basis_carry`) were planned as scans of the whole evaluation: 4.6 s for one chunk
        instead of 0.2 s at 100,000 credentials. Only the columns those lookups filter on, from a
        small sample: tens of milliseconds, where a full ``ANALYZE`` of the findings takes seconds."""
        if connection.vendor != "postgresql":
            return
        finding_table, carry_table = Finding._meta.db_table, SubjectCarry._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute("SET default_statistics_target = 10")
            try:
                cursor.execute(f'ANALYZE "{finding_table}" (evaluation_id, status, subject_type, credential_id, identity_id)')
                cursor.execute(f'ANALYZE "{carry_table}" (evaluation_id, subject_type, subject_id)')
            finally:
                cursor.execute("RESET default_statistics_target")

    def drop(self) -> None:
        """Drop the temporary table after a failure (best effort: the next evaluation on this
        connection drops it too)."""
        if self._carried_table:
            self._carried_table = False
            try:
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(f"DROP TABLE IF EXISTS {CARRIED_TABLE}")
            except DatabaseError:
                logger.warning("could not drop %s after a failed evaluation", CARRIED_TABLE)

    def tallies(self) -> tuple[dict[str, Tally], Counter[str]]:
        """Each rule's tally (populations: judged subjects counted by the engine, carried ones from
        their bits; outcomes counted over the evaluation's findings, carried and judged alike) and
        the findings by status."""
        population = Counter(self.population)
        for bits_hex, count in self.carried_populations.items():
            bits = int(bits_hex, 16)
            for index, rule in enumerate(self.rules):
                if bits >> index & 1:
                    population[rule.id] += count
        tallies = {rule.id: Tally(population=population[rule.id]) for rule in self.rules}
        statuses: Counter[str] = Counter()
        rows = Finding.objects.filter(evaluation=self.evaluation).order_by().values_list("rule_id", "status").annotate(n=Count("id"))
        for rule_id, status, n in rows:
            statuses[status] += n
            tally = tallies.get(rule_id)
            if tally is None:
                continue
            if status == Status.FAIL:
                tally.failed += n
            elif status == Status.EXCEPTED:
                tally.excepted += n
            else:
                tally.not_assessed += n
        return tallies, statuses


def _plannable(*tables: str) -> None:
    """Give the inventory tables planner statistics when they have none or are far out of date
    (PostgreSQL): autovacuum may be off or behind a collection that just wrote them, and without
    statistics ``disappeared_at IS NULL`` is taken for a rare condition, which turned the skip's
    joins into minutes of index scans at 100,000 credentials. Only the columns the skip filters and
    joins on, from a small sample (tens of milliseconds); nothing when the statistics are fresh."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_stat_user_tables WHERE relname = ANY(%s) AND "
            "((last_analyze IS NULL AND last_autoanalyze IS NULL) OR n_mod_since_analyze > n_live_tup / 5 + 1000)",
            [list(tables)],
        )
        stale = [row[0] for row in cursor.fetchall()]
        if not stale:
            return
        cursor.execute("SET default_statistics_target = 10")
        try:
            for table in stale:
                columns = "id, identity_id, source_id, disappeared_at" if table == CREDENTIAL_TABLE else "id, source_id, disappeared_at"
                cursor.execute(f'ANALYZE "{table}" ({columns})')
        finally:
            cursor.execute("RESET default_statistics_target")


_NULL = "\\N"  # NULL in a COPY text line


def _text(value: int | None) -> str:
    """An id column's value in a COPY text line."""
    return _NULL if value is None else str(value)


def _queue(evaluation: Evaluation, finding, since: dict, policy) -> tuple[datetime | None, object]:
    """(failing since, due on) of a finding: failing ones only."""
    if finding.status != Status.FAIL:
        return None, None
    key = (finding.rule_id, finding.subject_type, finding.source_id, finding.credential_id, finding.identity_id)
    first = since.get(key, evaluation.as_of)
    return first, (first.astimezone(UTC).date() + timedelta(days=policy.finding_due_days(finding.severity)))
