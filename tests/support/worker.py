"""A real Celery worker (separate process) on a real Redis broker, against the test database.

Tests that use it must be transactional (the worker only sees committed rows)."""

from __future__ import annotations

import os
import time

import pytest
import redis

from apps.devtools.simulators.worker import Worker, reset_broker_connections  # noqa: F401 - re-exported for tests
from tests.support.xdist import worker_redis_url

# Flushed by every test that uses it: one database per xdist worker (tests/support/xdist.py).
BROKER = worker_redis_url()


def wait_for_run(run, timeout: float = 90):
    """Poll ``run`` until it is finished (returned refreshed); fail with its units' state after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.is_finished:
            return run
        time.sleep(0.3)
    raise AssertionError(f"run still {run.status}: {list(run.units.values_list('scope', 'status', 'attempts', 'errors'))}")


@pytest.fixture
def celery_broker(settings):
    """Publish to Redis from this process instead of running tasks eagerly."""
    from config.celery import app

    redis.Redis.from_url(BROKER).flushdb()
    saved = {k: app.conf[k] for k in ("task_always_eager", "broker_url", "broker_transport_options")}
    app.conf.update(task_always_eager=False, broker_url=BROKER, broker_transport_options={"visibility_timeout": 5})
    reset_broker_connections(app)
    yield BROKER
    app.conf.update(saved)
    reset_broker_connections(app)


@pytest.fixture
def start_worker(celery_broker, tmp_path):
    """``start_worker(extra_env, concurrency=2, queues=None)`` → a running Worker (consuming
    ``queues``, a list of queue names, or every queue); all stopped afterwards."""
    from django.db import connection

    workers: list[Worker] = []
    db = connection.settings_dict

    def start(extra_env: dict[str, str] | None = None, concurrency: int = 2, queues: list[str] | None = None) -> Worker:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "KEYTRAIL_TEST_BROKER_URL": celery_broker,
            "KEYTRAIL_BROKER_VISIBILITY_TIMEOUT": "5",
            **(extra_env or {}),
        }
        worker = Worker(env, tmp_path / f"worker-{len(workers)}.log", concurrency, queues).start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()
