"""Celery tasks: take ids, call a service, own their retries."""

from __future__ import annotations

import logging
import random

from celery import shared_task
from django.conf import settings

from apps.core import semaphore
from apps.inventory.selectors import unit_source_id
from apps.inventory.services.collection import (
    DATABASE_LOST,
    RetryLater,
    collection_start_due,
    collection_sweep_stale,
    collection_unit_database_lost,
    collection_unit_execute,
)

logger = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None, name="inventory.collect_unit")
def collect_unit(self, unit_id: int) -> str:
    """Collect one unit. Retryable failures (throttling, unreachable) retry with exponential
    backoff up to KEYTRAIL_COLLECTION_MAX_RETRIES; eager mode (the demo) does not loop, so
    there the first failure is final (the SDKs' own retries still apply). A lost database
    connection (a restart) is retried the same way, on a new connection."""
    # One source's units take at most KEYTRAIL_COLLECTION_PER_SOURCE_CONCURRENCY slots at once,
    # across all workers; a unit that finds none free goes back on the queue (not a retry: its
    # attempts are not counted) and the worker takes the next message, another source's unit.
    slot_key = f"collect:source:{unit_source_id(unit_id=unit_id)}"
    token = semaphore.acquire(
        slot_key, limit=settings.KEYTRAIL_COLLECTION_PER_SOURCE_CONCURRENCY, lease_seconds=int(self.time_limit or 3600)
    )
    if token is None:
        # The same retry count travels with the message: waiting for a slot is not an attempt.
        self.apply_async((unit_id,), countdown=2 + random.random() * 3, retries=self.request.retries)  # noqa: S311 - jitter
        return "deferred"
    retries = self.request.retries
    final = bool(self.request.is_eager) or retries >= settings.KEYTRAIL_COLLECTION_MAX_RETRIES
    try:
        status = collection_unit_execute(unit_id=unit_id, final_attempt=final, retry_countdown=min(300, 5 * 2**retries)).status
        logger.info("collection unit %s %s", unit_id, status)
        return status
    except RetryLater as exc:
        raise self.retry(exc=exc, countdown=exc.countdown) from exc
    except DATABASE_LOST as exc:
        collection_unit_database_lost(unit_id=unit_id, message=str(exc), final_attempt=final)
        if final:
            return "failed"
        raise self.retry(exc=exc, countdown=min(300, 5 * 2**retries)) from exc
    finally:
        semaphore.release(slot_key, token)


@shared_task(name="inventory.collect_due_sources")
def collect_due_sources() -> int | None:
    run = collection_start_due()
    return run.pk if run else None


@shared_task(name="inventory.sweep_stale_units")
def sweep_stale_units() -> int:
    return collection_sweep_stale()
