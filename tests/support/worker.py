"""A real Celery worker (separate process) on a real Redis broker, against the test database.

Tests that use it must be transactional (the worker only sees committed rows)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

ROOT = Path(__file__).resolve().parents[2]
BROKER = os.environ.get("KEYTRAIL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


class Worker:
    def __init__(self, env: dict[str, str], log: Path, concurrency: int = 2):
        self.env, self.log, self.concurrency = env, log, concurrency
        self.proc: subprocess.Popen | None = None

    def start(self) -> Worker:
        out = open(self.log, "ab")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-l", "info", "--concurrency", str(self.concurrency),
             "--without-heartbeat", "--without-mingle", "--without-gossip", "-n", f"test-{time.monotonic_ns()}@%h"],
            cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if b"ready." in self.log.read_bytes():
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited: {self.log.read_text()[-3000:]}")
            time.sleep(0.2)
        raise RuntimeError(f"worker not ready in 60 s: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and children), as a crashed machine would."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def wait_for_run(run, timeout: float = 90):
    """Poll ``run`` until it is finished (returned refreshed); fail with its units' state after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.is_finished:
            return run
        time.sleep(0.3)
    raise AssertionError(f"run still {run.status}: {list(run.units.values_list('scope', 'status', 'attempts', 'errors'))}")


def reset_broker_connections(app) -> None:
    """Drop the app's connection and producer pools so the next publish uses the current broker_url."""
    import kombu.pools

    kombu.pools.reset()  # kombu keeps process-wide pools keyed by connection
    app._pool = None
    app.amqp._producer_pool = None


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
    """``start_worker(extra_env, concurrency=2)`` → a running Worker; all stopped afterwards."""
    from django.db import connection

    workers: list[Worker] = []
    db = connection.settings_dict

    def start(extra_env: dict[str, str] | None = None, concurrency: int = 2) -> Worker:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "KEYTRAIL_TEST_BROKER_URL": celery_broker,
            "KEYTRAIL_BROKER_VISIBILITY_TIMEOUT": "5",
            **(extra_env or {}),
        }
        worker = Worker(env, tmp_path / f"worker-{len(workers)}.log", concurrency).start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()
