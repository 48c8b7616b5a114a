"""Policy changes and evaluations."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import time

from django.db import transaction
from django.utils import timezone

from apps.audit import events
from apps.audit.services import diff
from apps.catalog.models import Requirement
from apps.controls.evidence_status import manual_evidence_status
from apps.controls.selectors import requirement_evidence
from apps.core.errors import PermissionRefused, ValidationFailed
from apps.core.permissions import has_perm
from apps.evaluation.collection_pause import fewer_collections, release
from apps.evaluation.engine import coverage_by_kind, requirement_status, rule_coverage, rule_status
from apps.evaluation.exceptions import load_exception_matcher
from apps.evaluation.facts import iter_fact_chunks, load_source_facts
from apps.evaluation.incremental import context_key
from apps.evaluation.judging import CHUNK_SIZE, ChunkJudge, catalog_versions, previous_evaluation
from apps.evaluation.models import Evaluation, Finding, PolicyVersion, RequirementStatus, RuleResult, SubjectCarry
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
        self.evaluation_id, self.listener = evaluation_id, listener
        self.last: dict | None = None

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
        transaction.on_commit(functools.partial(_enqueue, evaluation.pk))
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
        key = context_key(rules=rules, ctx=ctx, matcher=matcher, catalog=catalog_versions())
        previous = previous_evaluation(evaluation)
        carry = incremental and previous is not None and previous.carry_key == key and previous.as_of <= now
        basis = previous if carry else None
        judge = ChunkJudge(evaluation, rules, ctx, matcher, base.snapshot_by_scope, policy, previous, basis)
        judge.sources(base.sources)
        total = Credential.objects.filter(source_id__in=source_ids, disappeared_at__isnull=True).count()
        step("rules", 0, total)
        skip_table = judge.skip_unchanged(source_ids)
        with fewer_collections():
            for chunk in iter_fact_chunks(policy=policy, now=now, source_ids=source_ids, size=CHUNK_SIZE, skip_table=skip_table):
                judge.chunk(chunk)
                release(chunk)
                step("rules", min(judge.credentials, total), total)
        coverage = coverage_by_kind(base.sources, now=now, grace_factor=policy.coverage_grace_factor)
        step("writing")
        judge.copy_carried()
        judge.refresh_statistics()
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
                # Rules prove only part of it: the manual evidence of the rest, shown beside the rules' status.
                manual_status=manual_evidence_status(evidence.get(requirement.pk, []), on=on)
                if rule_ids and requirement.manual_evidence_for.strip()
                else "",
            )
        )
    RequirementStatus.objects.bulk_create(req_rows)
