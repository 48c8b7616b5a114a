"""Policy changes and evaluations."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from django.db import DatabaseError, connection, transaction
from django.db.models import Count
from django.utils import timezone

from apps.audit import events
from apps.audit.services import diff
from apps.catalog.models import CatalogVersion, Requirement
from apps.controls.evidence_status import manual_evidence_status
from apps.controls.selectors import requirement_evidence
from apps.core.bulk import bulk_insert
from apps.core.errors import PermissionRefused, ValidationFailed
from apps.core.permissions import has_perm
from apps.core.rows import fast_rows, where_id_in
from apps.evaluation.engine import Tally, coverage_by_kind, requirement_status, rule_coverage, rule_status, run_rules
from apps.evaluation.exceptions import load_exception_matcher
from apps.evaluation.facts import iter_fact_chunks, load_source_facts
from apps.evaluation.incremental import context_key, credential_fingerprints, identity_fingerprint, stored_until
from apps.evaluation.models import Evaluation, Finding, PolicyVersion, RequirementStatus, RuleResult, Status, SubjectCarry
from apps.evaluation.policy import PolicyError, policy_from_dict
from apps.evaluation.rules.base import RuleContext
from apps.evaluation.rules.registry import all_rules
from apps.inventory.models import Credential

logger = logging.getLogger(__name__)


def policy_current() -> PolicyVersion:
    """The policy in force; version 1 (the defaults) is created on first use."""
    current = PolicyVersion.objects.order_by("-version").first()
    if current is None:
        with transaction.atomic():
            current, _ = PolicyVersion.objects.get_or_create(
                version=1, defaults={"data": policy_from_dict({}).as_dict(), "comment": "defaults from the source guidance"}
            )
    return current


@transaction.atomic
def policy_update(*, actor, data: dict, comment: str = "") -> PolicyVersion:
    """Validate and store a new policy version (the old one stays, for evaluations that used it). Audited."""
    if not has_perm(actor, "evaluation.edit_policy"):
        raise PermissionRefused(f"{actor} may not change the policy")
    try:
        policy = policy_from_dict(data)
    except PolicyError as exc:
        raise ValidationFailed(f"Policy refused: {exc}") from exc
    current = PolicyVersion.objects.select_for_update().order_by("-version").first() or policy_current()
    new_data = policy.as_dict()
    changes = diff(current.data, new_data)
    if not changes:
        raise ValidationFailed("Nothing changed: the policy is the same as the version in force.")
    version = PolicyVersion.objects.create(version=current.version + 1, data=new_data, comment=comment[:300], created_by=actor)
    events.policy_updated(actor=actor, policy_version=version, changes=changes, comment=comment)
    return version


# Share of the progress bar per phase: loading the inventory, running the rules, writing the results.
PHASES = {"loading": (0, 20), "rules": (20, 90), "writing": (90, 100)}


def evaluation_progress(*, evaluation_id: int, phase: str, done: int = 0, total: int = 0) -> dict:
    """Record how far a running evaluation is (its own small write, seen by the UI, the API and
    the command while the evaluation runs). Returns the progress recorded."""
    low, high = PHASES[phase]
    progress = {"phase": phase, "done": done, "total": total, "percent": low + ((high - low) * done // total if total else 0)}
    Evaluation.objects.filter(pk=evaluation_id).update(progress=progress)
    return progress


class _ProgressRecorder:
    """Writes progress when the phase changes or it moved by ``PROGRESS_STEP`` points: a handful of
    small UPDATEs per evaluation whatever the number of rules; the listener (the command's bar)
    hears every step."""

    def __init__(self, evaluation_id: int, listener=None):
        self.evaluation_id, self.listener, self.last = evaluation_id, listener, None

    def __call__(self, phase: str, done: int = 0, total: int = 0) -> None:
        low, high = PHASES[phase]
        percent = low + ((high - low) * done // total if total else 0)
        if self.last is None or self.last["phase"] != phase or percent - self.last["percent"] >= PROGRESS_STEP:
            self.last = evaluation_progress(evaluation_id=self.evaluation_id, phase=phase, done=done, total=total)
        if self.listener is not None:
            self.listener({"phase": phase, "done": done, "total": total, "percent": percent})


PROGRESS_STEP = 15


QUEUED = {"phase": "queued", "done": 0, "total": 0, "percent": 0}


def evaluation_request(*, actor) -> Evaluation:
    """Queue an evaluation for a worker and return it at once (running, progress "queued"); the
    task starts after commit and judges the inventory as it is when the worker takes it up.

    Raises PermissionRefused when ``actor`` may not start one."""
    if not has_perm(actor, "evaluation.run_evaluation"):
        raise PermissionRefused(f"{actor} may not start an evaluation")
    with transaction.atomic():
        evaluation = Evaluation.objects.create(
            trigger=Evaluation.Trigger.MANUAL,
            requested_by=actor,
            policy_version=policy_current(),
            as_of=timezone.now(),
            progress=dict(QUEUED),
        )
        transaction.on_commit(lambda pk=evaluation.pk: _enqueue(pk))
    evaluation.refresh_from_db()  # eager Celery (tests) has already run it
    return evaluation


def _enqueue(evaluation_pk: int) -> None:
    from apps.evaluation.tasks import evaluate_queued

    try:
        evaluate_queued.delay(evaluation_pk)
    except Exception as exc:  # noqa: BLE001 - the broker refused it, or (eager) the run failed and recorded why
        logger.exception("evaluation %s could not be run", evaluation_pk)
        with transaction.atomic():
            evaluation = Evaluation.objects.select_for_update().get(pk=evaluation_pk)
            if evaluation.state == Evaluation.State.RUNNING:  # never reached a worker: say so, do not leave it "queued"
                evaluation.state = Evaluation.State.FAILED
                evaluation.finished_at = timezone.now()
                evaluation.error = f"Could not be queued for a worker: {type(exc).__name__}: {exc}"[:4000]
                evaluation.save(update_fields=["state", "finished_at", "error"])
                events.evaluation_failed(actor=evaluation.requested_by, evaluation=evaluation, error=evaluation.error)


def evaluation_run(
    *,
    actor=None,
    trigger: str = Evaluation.Trigger.MANUAL,
    collection_run=None,
    now=None,
    progress_listener=None,
    queued: Evaluation | None = None,
    incremental: bool = True,
) -> Evaluation:
    """Judge the present inventory against every rule and the policy in force; store findings,
    rule results and requirement statuses in one transaction. A failure is recorded on the
    evaluation (state failed) and re-raised. Progress is recorded on the evaluation as it runs
    (and passed to ``progress_listener(progress)``). ``queued`` is an evaluation made by
    ``evaluation_request``, run now under its own requester and policy version.

    Subjects whose facts, context key and verdict time limits are unchanged since the previous
    evaluation keep its verdicts (``carried``); the rest are judged (``judged``).
    ``incremental=False`` judges everything (a cold evaluation; tests compare the two)."""
    if queued is not None:
        actor, trigger, collection_run = queued.requested_by, queued.trigger, None
    if actor is not None and not has_perm(actor, "evaluation.run_evaluation"):
        raise PermissionRefused(f"{actor} may not start an evaluation")
    now = now or timezone.now()
    if queued is not None:
        evaluation, policy_version = queued, queued.policy_version
        Evaluation.objects.filter(pk=queued.pk).update(as_of=now)
        evaluation.as_of = now
    else:
        policy_version = policy_current()
        evaluation = Evaluation.objects.create(
            trigger=trigger, requested_by=actor, collection_run=collection_run, policy_version=policy_version, as_of=now
        )
    policy = policy_from_dict(policy_version.data)
    started = time.monotonic()

    step = _ProgressRecorder(evaluation.pk, progress_listener)
    judge = None
    try:
        step("loading")
        base = load_source_facts()
        source_ids = [s.id for s in base.sources]
        rules = all_rules()
        matcher = load_exception_matcher(now)
        ctx = RuleContext(policy=policy, now=now)
        key = context_key(rules=rules, ctx=ctx, matcher=matcher, catalog=_catalog_versions())
        previous = _previous_evaluation(evaluation)
        carry = incremental and previous is not None and previous.carry_key == key and previous.as_of <= now
        basis = previous if carry else None
        judge = _ChunkJudge(evaluation, rules, ctx, matcher, base.snapshot_by_scope, policy, previous, basis)
        judge.sources(base.sources)
        total = Credential.objects.filter(source_id__in=source_ids, disappeared_at__isnull=True).count()
        step("rules", 0, total)
        for chunk in iter_fact_chunks(policy=policy, now=now, source_ids=source_ids, size=CHUNK_SIZE):
            judge.chunk(chunk)
            step("rules", min(judge.credentials, total), total)
        coverage = coverage_by_kind(base.sources, now=now, grace_factor=policy.coverage_grace_factor)
        step("writing")
        judge.copy_carried()
        with transaction.atomic():
            tallies, statuses = judge.tallies()
            _write(evaluation, rules, tallies, coverage)
            evaluation.state = Evaluation.State.SUCCEEDED
            evaluation.finished_at = timezone.now()
            evaluation.carried, evaluation.judged, evaluation.carry_key = judge.carried, judge.judged, key
            evaluation.counts = {
                "credentials": judge.credentials,
                "identities": judge.identities,
                "sources": len(base.sources),
                "findings": sum(statuses.values()),
                "failed": statuses["fail"],
                "excepted": statuses["excepted"],
                "not_assessed": statuses["not_assessed"],
                "carried": judge.carried,
                "judged": judge.judged,
                "seconds": round(time.monotonic() - started, 3),
            }
            evaluation.progress = {"phase": "done", "done": 1, "total": 1, "percent": 100}
            evaluation.save(update_fields=["state", "finished_at", "counts", "progress", "carried", "judged", "carry_key"])
            # Only the latest successful evaluation's carry rows are ever read.
            SubjectCarry.objects.filter(
                evaluation_id__in=Evaluation.objects.filter(pk__lt=evaluation.pk).exclude(state=Evaluation.State.RUNNING).values("pk")
            ).delete()
            events.evaluation_completed(actor=actor, evaluation=evaluation)
    except Exception as exc:
        logger.exception("evaluation %s failed", evaluation.pk)
        if judge is not None:
            judge.drop()
        with transaction.atomic():
            # Findings and carry rows were written chunk by chunk: a failed evaluation keeps none.
            Finding.objects.filter(evaluation=evaluation).delete()
            SubjectCarry.objects.filter(evaluation=evaluation).delete()
            evaluation.state = Evaluation.State.FAILED
            evaluation.finished_at = timezone.now()
            evaluation.error = f"{type(exc).__name__}: {exc}"[:4000]
            evaluation.save(update_fields=["state", "finished_at", "error"])
            events.evaluation_failed(actor=actor, evaluation=evaluation, error=evaluation.error)
        raise
    return evaluation


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
CARRY_COLUMNS = ["evaluation_id", "subject_type", "subject_id", "fingerprint", "valid_until", "populations"]
CARRIED_TABLE = "evaluation_carried_now"  # temporary, per connection


def _catalog_versions() -> list:
    return list(CatalogVersion.objects.order_by("catalog_id", "version").values_list("catalog_id", "version", "sha256"))


def _previous_evaluation(evaluation: Evaluation) -> Evaluation | None:
    """The evaluation that succeeded last before ``evaluation``: its failing findings give
    ``failing_since``, and (with the same key) its verdicts can be carried."""
    return (
        Evaluation.objects.filter(state=Evaluation.State.SUCCEEDED, started_at__lte=evaluation.started_at)
        .exclude(pk=evaluation.pk)
        .order_by("-started_at", "-pk")
        .first()
    )


class _ChunkJudge:
    """Judges the inventory chunk by chunk and writes each chunk's findings and carry rows at once
    (COPY on PostgreSQL): a subject whose fingerprint and verdicts' time limit allow it keeps the
    basis evaluation's findings (copied inside the database), every other one is judged."""

    def __init__(self, evaluation, rules, ctx, matcher, snapshot_of, policy, previous, basis):
        self.evaluation, self.rules, self.ctx, self.matcher = evaluation, rules, ctx, matcher
        self.snapshot_of, self.policy, self.previous, self.basis = snapshot_of, policy, previous, basis
        self.population: Counter[str] = Counter()
        self.carried_populations: Counter[str] = Counter()
        self.credentials = self.identities = self.carried = self.judged = 0
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
                self.carried_populations[before[2]] += 1
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
        pk = self.evaluation.pk
        bulk_insert(
            SubjectCarry,
            CARRY_COLUMNS,
            ((pk, kind, sid, prints[(kind, sid)], stored_until(until), format(bits, "x")) for (kind, sid), (until, bits) in holds.items()),
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
        evaluation, snapshot_of, policy = self.evaluation, self.snapshot_of, self.policy
        bulk_insert(
            Finding,
            FINDING_COLUMNS,
            (
                (
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
                for f in findings
            ),
        )

    def _note_carried(self, chunk, carried: set[tuple[str, int]]) -> None:
        """Note the carried subjects (with their scope's latest snapshot) in a temporary table: one
        set-based copy at the end (:meth:`copy_carried`) brings their findings and carry rows over."""
        rows = [
            ("credential", c.id, self.snapshot_of.get((c.source_id, c.scope))) for c in chunk.credentials if ("credential", c.id) in carried
        ]
        rows += [
            ("identity", i.id, self.snapshot_of.get((i.source_id, "aws_iam"))) for i in chunk.identities if ("identity", i.id) in carried
        ]
        with connection.cursor() as cursor:
            if not self._carried_table:
                cursor.execute(f"DROP TABLE IF EXISTS {CARRIED_TABLE}")  # left by an evaluation that failed on this connection
                cursor.execute(f"CREATE TEMPORARY TABLE {CARRIED_TABLE} (subject_type varchar(16), subject_id bigint, snapshot_id bigint)")
                self._carried_table = True
            if connection.vendor == "postgresql":
                with cursor.cursor.copy(f"COPY {CARRIED_TABLE} (subject_type, subject_id, snapshot_id) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                cursor.executemany(f"INSERT INTO {CARRIED_TABLE} VALUES (%s, %s, %s)", rows)  # noqa: S608 - a constant name

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
        carry = ", ".join(CARRY_COLUMNS[1:])
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
            cursor.execute(
                f'INSERT INTO "{carry_table}" (evaluation_id, {carry}) '  # noqa: S608 - constant names only
                f'SELECT %s, {", ".join("c." + c for c in CARRY_COLUMNS[1:])} FROM "{carry_table}" c '
                f"JOIN {CARRIED_TABLE} t ON t.subject_type = c.subject_type AND t.subject_id = c.subject_id "
                f"WHERE c.evaluation_id = %s",
                [self.evaluation.pk, self.basis.pk],
            )
            cursor.execute(f"DROP TABLE {CARRIED_TABLE}")
        self._carried_table = False

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


def _queue(evaluation: Evaluation, finding, since: dict, policy) -> tuple[datetime | None, object]:
    """(failing since, due on) of a finding: failing ones only."""
    if finding.status != Status.FAIL:
        return None, None
    key = (finding.rule_id, finding.subject_type, finding.source_id, finding.credential_id, finding.identity_id)
    first = since.get(key, evaluation.as_of)
    return first, (first.astimezone(UTC).date() + timedelta(days=policy.finding_due_days(finding.severity)))


def _write(evaluation, rules, tallies, coverage) -> None:
    by_rule: dict[str, str] = {}
    rule_rows = []
    for rule in rules:
        tally = tallies[rule.id]
        cov = rule_coverage(rule.scope_kind, coverage)
        status = rule_status(tally, cov)
        by_rule[rule.id] = status
        rule_rows.append(
            RuleResult(
                evaluation=evaluation,
                rule_id=rule.id,
                severity=rule.severity,
                status=status,
                population=tally.population,
                failed=tally.failed,
                excepted=tally.excepted,
                not_assessed=tally.not_assessed,
                covered=cov.covered,
                note=cov.note,
            )
        )
    RuleResult.objects.bulk_create(rule_rows)
    req_rows = []
    evidence = requirement_evidence(as_of=evaluation.as_of)
    on = evaluation.as_of.astimezone(dt.UTC).date()
    for requirement in Requirement.objects.filter(retired_in__isnull=True):
        rule_ids = [r for r in requirement.rule_ids if r in by_rule]
        req_rows.append(
            RequirementStatus(
                evaluation=evaluation,
                requirement=requirement,
                # No rule tests it: what its controls' manual evidence shows (evidenced, missing, stale).
                status=requirement_status([by_rule[r] for r in rule_ids])
                if rule_ids
                else manual_evidence_status(evidence.get(requirement.pk, []), on=on),
                population=sum(tallies[r].population for r in rule_ids),
                failed=sum(tallies[r].failed for r in rule_ids),
                excepted=sum(tallies[r].excepted for r in rule_ids),
                not_assessed=sum(tallies[r].not_assessed for r in rule_ids),
                rule_ids=rule_ids,
            )
        )
    RequirementStatus.objects.bulk_create(req_rows)
