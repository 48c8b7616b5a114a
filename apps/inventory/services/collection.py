"""Starting collections, running one unit, and closing runs.

A run fans out into units (source × IAM/region/vault), one Celery task each. A unit's
result is applied to the inventory in one transaction together with its snapshot, its
status and its audit event; a unit that fails leaves the previous state of its scope as it
was. The run's status follows from its units: succeeded, partial or failed.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from apps.audit import events
from apps.connectors.base import Batch, ConnectorError
from apps.connectors.registry import get_connector
from apps.core import pipeline
from apps.core.errors import PermissionRefused, ValidationFailed
from apps.core.permissions import has_perm
from apps.inventory.models import CollectionRun, CollectionUnit, Source
from apps.inventory.services.apply import inventory_apply
from apps.inventory.services.discovery import target_from_json, units_spawn
from apps.inventory.services.sources import source_targets

logger = logging.getLogger(__name__)

# The database went away under a unit (a restart, a failover, a killed connection). Not the
# unit's fault and not an answer from the cloud: the task reconnects and runs the unit again.
DATABASE_LOST = (OperationalError, InterfaceError)
BROKER_UNAVAILABLE = "broker_unavailable"


class RetryLater(Exception):
    """A unit failed in a way worth retrying (throttled, unreachable); the task retries it."""

    def __init__(self, message: str, *, countdown: float):
        super().__init__(message)
        self.countdown = countdown


def collection_start(*, actor, sources, trigger: str = CollectionRun.Trigger.MANUAL) -> CollectionRun:
    """Create a run with one unit per source target and enqueue them after commit.

    ``actor`` None means the scheduler. Raises ValidationFailed when no enabled source is
    given and PermissionRefused when the actor may not run one of them.
    """
    sources = [s for s in sources if s.enabled]
    if not sources:
        raise ValidationFailed("There is no enabled source to collect.")
    if actor is not None:
        refused = [s.name for s in sources if not has_perm(actor, "inventory.run_collection", s)]
        if refused:
            raise PermissionRefused(f"{actor} may not collect {', '.join(refused)}")
    with transaction.atomic():
        run = CollectionRun.objects.create(trigger=trigger, requested_by=actor)
        units = [
            CollectionUnit(run=run, source=source, connector=connector, scope=scope, region=target.region)
            for source in sources
            for connector, scope, target in source_targets(source)
        ]
        CollectionUnit.objects.bulk_create(units)
        events.collection_started(actor=actor, run=run, sources=[s.name for s in sources], units=len(units))
        unit_ids = list(run.units.values_list("pk", flat=True))
        transaction.on_commit(lambda: _enqueue(run.pk, unit_ids))
    return run


def _enqueue(run_id: int, unit_ids: list[int]) -> None:
    from apps.inventory.tasks import collect_unit

    for i, unit_id in enumerate(unit_ids):
        try:
            collect_unit.delay(unit_id)
        except Exception as exc:  # noqa: BLE001 - the broker is down: record it, lose nothing
            logger.exception("could not enqueue collection unit %s", unit_id)
            # Every publish would wait out the same connection retries; fail the rest at once.
            for pending in unit_ids[i:]:
                collection_unit_fail(
                    unit_id=pending, code=BROKER_UNAVAILABLE, message=f"the task queue is unavailable, nothing was collected: {exc}"
                )
            return


def collection_enqueue_problem(run: CollectionRun) -> str | None:
    """A message for the person who started ``run`` when its units never reached the task
    queue (the broker was down), else None."""
    errors = [e for e in run.units.values_list("errors", flat=True)]
    if errors and all(e and e[-1].get("code") == BROKER_UNAVAILABLE for e in errors):
        return (
            f"The task queue is unavailable, so nothing was collected. Run #{run.pk} is recorded as failed; "
            "retry it once the queue is back."
        )
    return None


def collection_retry(*, actor, run: CollectionRun) -> CollectionRun:
    """Start a new run of the units that failed in ``run`` (those of sources ``actor`` may collect)."""
    if not run.is_finished:
        raise ValidationFailed("This run has not finished yet.")
    failed = list(run.units.filter(status=CollectionUnit.Status.FAILED).select_related("source"))
    if not failed:
        raise ValidationFailed("No unit of this run failed; there is nothing to retry.")
    if actor is not None:
        failed = [u for u in failed if has_perm(actor, "inventory.run_collection", u.source)]
        if not failed:
            raise PermissionRefused(f"{actor} may not collect any source whose collection failed in run #{run.pk}")
    with transaction.atomic():
        retry = CollectionRun.objects.create(trigger=CollectionRun.Trigger.RETRY, requested_by=actor, retry_of=run)
        CollectionUnit.objects.bulk_create(
            [
                CollectionUnit(run=retry, source=u.source, connector=u.connector, scope=u.scope, region=u.region, target=u.target)
                for u in failed
            ]
        )
        events.collection_started(actor=actor, run=retry, sources=sorted({u.source.name for u in failed}), units=len(failed))
        unit_ids = list(retry.units.values_list("pk", flat=True))
        transaction.on_commit(lambda: _enqueue(retry.pk, unit_ids))
    return retry


def _target_for(unit: CollectionUnit):
    if unit.target:  # a unit a discovery found (a region): its target is not in the settings
        return target_from_json(unit.target)
    for _connector, scope, target in source_targets(unit.source):
        if scope == unit.scope:
            return target
    raise ConnectorError(f"source {unit.source} no longer has scope {unit.scope}", code="scope_removed")


def _previous_state(unit: CollectionUnit) -> dict | None:
    prev = (
        CollectionUnit.objects.filter(source=unit.source, scope=unit.scope, status=CollectionUnit.Status.SUCCEEDED)
        .exclude(pk=unit.pk)
        .order_by("-finished_at")
        .values_list("state", flat=True)
        .first()
    )
    return prev or None


class StreamFailed(Exception):
    """A streaming connector raised while its batches were being applied; ``__cause__`` is what it raised."""


def _marked(stream: Iterator[Batch]) -> Iterator[Batch]:
    """``stream``, with what the connector raises told apart from what applying raises."""
    while True:
        try:
            batch = next(stream)
        except StopIteration:
            return
        except DATABASE_LOST:
            raise
        except Exception as exc:
            raise StreamFailed(str(exc)) from exc
        yield batch


@dataclass
class UnitOutcome:
    status: str
    message: str = ""


def collection_unit_execute(*, unit_id: int, final_attempt: bool = True, retry_countdown: float = 5.0) -> UnitOutcome:
    """Run one unit: call its connector, apply the result, close the unit and maybe the run.

    Idempotent: a unit already finished is left alone, so a redelivered task is harmless.
    Raises RetryLater for a retryable failure when ``final_attempt`` is False.
    """
    with transaction.atomic():
        unit = CollectionUnit.objects.select_for_update().select_related("source", "run").get(pk=unit_id)
        if unit.status in (CollectionUnit.Status.SUCCEEDED, CollectionUnit.Status.FAILED):
            return UnitOutcome(unit.status, "already finished")
        now = timezone.now()
        unit.status = CollectionUnit.Status.RUNNING
        unit.attempts += 1
        unit.started_at = unit.started_at or now
        unit.save(update_fields=["status", "attempts", "started_at"])
        CollectionRun.objects.filter(pk=unit.run_id, status=CollectionRun.Status.PENDING).update(
            status=CollectionRun.Status.RUNNING, started_at=now
        )

    started = time.monotonic()
    try:
        target = _target_for(unit)
        connector = get_connector(unit.connector)
        result = connector.open(target, previous_state=_previous_state(unit))
        if result.stream is not None:
            result.stream = _marked(result.stream)
    except DATABASE_LOST:
        raise
    except ConnectorError as exc:
        if exc.retryable and not final_attempt:
            _note_attempt_error(unit_id, exc.code, str(exc))
            raise RetryLater(str(exc), countdown=retry_countdown) from exc
        collection_unit_fail(unit_id=unit_id, code=exc.code, message=str(exc))
        return UnitOutcome(CollectionUnit.Status.FAILED, str(exc))
    except Exception as exc:  # noqa: BLE001 - a connector bug or an unforeseen answer: record, never crash the run
        logger.exception("collection unit %s failed unexpectedly", unit_id)
        collection_unit_fail(
            unit_id=unit_id, code="internal_error", message=f"{type(exc).__name__}: {exc}", detail=traceback.format_exc(limit=5)
        )
        return UnitOutcome(CollectionUnit.Status.FAILED, str(exc))

    try:
        with transaction.atomic():
            unit = CollectionUnit.objects.select_for_update().select_related("source", "run").get(pk=unit_id)
            if unit.status != CollectionUnit.Status.RUNNING:
                return UnitOutcome(unit.status, "finished elsewhere")
            taken_at = timezone.now()
            snapshot, counts = inventory_apply(unit=unit, result=result, taken_at=taken_at)
            # What a discovery found becomes units of this run, enqueued once this commits.
            spawned, spawn_errors = units_spawn(unit=unit, result=result)
            if spawned:
                run_id = unit.run_id
                transaction.on_commit(lambda: _enqueue(run_id, spawned))
            unit.status = CollectionUnit.Status.SUCCEEDED
            unit.finished_at = taken_at
            unit.api_calls = dict(Counter(result.api_calls))
            unit.errors = unit.errors + [dict(e, attempt=unit.attempts) for e in [*result.errors, *spawn_errors]]
            unit.counts = {**counts.as_dict(), "seconds": round(time.monotonic() - started, 3)}
            unit.state = result.state
            unit.save(update_fields=["status", "finished_at", "api_calls", "errors", "counts", "state"])
            unit.snapshot = snapshot
            events.collection_unit_succeeded(unit=unit, counts=counts.as_dict(), api_calls=unit.api_calls, item_errors=len(result.errors))
            _refresh_run(unit.run_id)
    except DATABASE_LOST:
        raise
    except StreamFailed as failed:  # the connector failed mid-stream: nothing of this unit was written (rolled back)
        cause = failed.__cause__
        calls = dict(Counter(result.api_calls))
        if isinstance(cause, ConnectorError):
            if cause.retryable and not final_attempt:
                _note_attempt_error(unit_id, cause.code, str(cause))
                raise RetryLater(str(cause), countdown=retry_countdown) from cause
            collection_unit_fail(unit_id=unit_id, code=cause.code, message=str(cause), api_calls=calls)
            return UnitOutcome(CollectionUnit.Status.FAILED, str(cause))
        logger.error("collection unit %s failed unexpectedly mid-stream", unit_id, exc_info=cause)
        collection_unit_fail(
            unit_id=unit_id,
            code="internal_error",
            message=f"{type(cause).__name__}: {cause}",
            detail="".join(traceback.format_exception(cause, limit=5)),
            api_calls=calls,
        )
        return UnitOutcome(CollectionUnit.Status.FAILED, str(cause))
    except Exception as exc:  # noqa: BLE001 - nothing was written (rolled back); record why
        logger.exception("applying collection unit %s failed", unit_id)
        collection_unit_fail(
            unit_id=unit_id, code="apply_failed", message=f"{type(exc).__name__}: {exc}", api_calls=dict(Counter(result.api_calls))
        )
        return UnitOutcome(CollectionUnit.Status.FAILED, str(exc))
    return UnitOutcome(CollectionUnit.Status.SUCCEEDED)


def _note_attempt_error(unit_id: int, code: str, message: str) -> None:
    with transaction.atomic():
        unit = CollectionUnit.objects.select_for_update().get(pk=unit_id)
        unit.errors = unit.errors + [{"code": code, "message": message[:2000], "item": "", "attempt": unit.attempts, "retrying": True}]
        unit.status = CollectionUnit.Status.PENDING
        unit.save(update_fields=["errors", "status"])


def collection_unit_database_lost(*, unit_id: int, message: str, final_attempt: bool) -> None:
    """Record that a unit's attempt lost its database connection (nothing of it was applied).

    Drops the dead connection first so the record is written on a new one. Not final: the
    unit goes back to pending for the task's retry. Final: the unit fails with
    ``database_unavailable``. If the database is still away nothing can be recorded; the
    stale-unit sweeper closes the unit later.
    """
    connection.close()
    try:
        if final_attempt:
            collection_unit_fail(
                unit_id=unit_id,
                code="database_unavailable",
                message=f"the database connection was lost during collection; nothing was applied: {message}",
            )
        else:
            _note_attempt_error(unit_id, "database_unavailable", f"the database connection was lost; retrying: {message}")
    except DATABASE_LOST:
        connection.close()
        logger.exception("could not record the lost database connection of collection unit %s", unit_id)


def collection_unit_fail(*, unit_id: int, code: str, message: str, detail: str = "", api_calls: dict | None = None) -> None:
    """Mark a unit failed with its error (its scope keeps its previous state) and close the run if done."""
    with transaction.atomic():
        unit = CollectionUnit.objects.select_for_update().select_related("source", "run").get(pk=unit_id)
        if unit.status in (CollectionUnit.Status.SUCCEEDED, CollectionUnit.Status.FAILED):
            return
        unit.status = CollectionUnit.Status.FAILED
        unit.finished_at = timezone.now()
        error = {"code": code, "message": message[:2000], "item": "", "attempt": unit.attempts}
        if detail:
            error["detail"] = detail[:4000]
        unit.errors = unit.errors + [error]
        if api_calls:
            unit.api_calls = api_calls
        unit.save(update_fields=["status", "finished_at", "errors", "api_calls"])
        events.collection_unit_failed(unit=unit, code=code, message=message)
        _refresh_run(unit.run_id)


def _refresh_run(run_id: int) -> None:
    run = CollectionRun.objects.select_for_update().get(pk=run_id)
    if run.is_finished:
        return
    statuses = Counter(run.units.values_list("status", flat=True))
    if statuses[CollectionUnit.Status.PENDING] or statuses[CollectionUnit.Status.RUNNING]:
        return
    if statuses[CollectionUnit.Status.FAILED] == 0:
        status = CollectionRun.Status.SUCCEEDED
    elif statuses[CollectionUnit.Status.SUCCEEDED] == 0:
        status = CollectionRun.Status.FAILED
    else:
        status = CollectionRun.Status.PARTIAL
    run.status = status
    run.finished_at = timezone.now()
    run.started_at = run.started_at or run.finished_at
    run.save(update_fields=["status", "finished_at", "started_at"])
    events.collection_finished(
        run=run,
        status=status,
        summary={
            "units": sum(statuses.values()),
            "failed": statuses[CollectionUnit.Status.FAILED],
            "seconds": round((run.finished_at - run.started_at).total_seconds(), 3),
        },
    )
    # What follows a collection (evaluation, the remediation check) is declared in config/pipeline.py.
    pipeline.publish("collection.finished", run_id=run.pk, status=status)


def collection_sweep_stale(*, older_than: timedelta | None = None) -> int:
    """Fail units left running by a worker that died (beyond the stale limit). Returns how many."""
    if older_than is None:
        older_than = timedelta(minutes=settings.KEYTRAIL_COLLECTION_STALE_MINUTES)
    limit = timezone.now() - older_than
    stale = list(CollectionUnit.objects.filter(status=CollectionUnit.Status.RUNNING, started_at__lt=limit).values_list("pk", flat=True))
    for unit_id in stale:
        collection_unit_fail(
            unit_id=unit_id,
            code="worker_lost",
            message="the worker running this unit stopped before finishing; nothing from it was applied; retry the run",
        )
    return len(stale)


def collection_start_due(*, now=None) -> CollectionRun | None:
    """Start one scheduled run for every enabled source whose last collection is older than its schedule.
    An organisation's member accounts are collected by the organisation's runs, not on their own."""
    now = now or timezone.now()
    due = []
    for source in Source.objects.filter(enabled=True, parent__isnull=True):
        last = CollectionUnit.objects.filter(source=source).order_by("-run__created_at").values_list("run__created_at", flat=True).first()
        if last is None or last <= now - timedelta(minutes=source.schedule_minutes):
            due.append(source)
    if not due:
        return None
    return collection_start(actor=None, sources=due, trigger=CollectionRun.Trigger.SCHEDULE)
