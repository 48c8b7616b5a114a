"""The demo's Celery worker: a real worker, in this process, on kombu's in-memory transport.

Production runs Celery workers against Redis; the demo has no broker and used to run every
task eagerly inside the request that queued it, so "Build pack" froze the page for the whole
build. Here the demo starts one Celery worker (Celery's embedded ``WorkController``, solo pool)
in a thread of the demo's own process, consuming from the ``memory://`` transport, whose
queues live in this process. Pages and API calls therefore return as soon as the work is
queued, and show its progress while the worker does it — what production does. The choice and
its alternatives: docs/adr/0009-demo-worker.md.

In-process rather than a child process because the demo's simulated cloud (moto's server, the
Key Vault simulators) is started in this process and points the settings at itself at run time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from celery.contrib.testing.worker import TestWorkController, setup_app_for_worker
from celery.utils.nodenames import anon_nodename
from celery.worker import state as worker_state
from django.conf import settings
from django.db import close_old_connections


@contextmanager
def demo_worker(*, loglevel: str = "WARNING") -> Iterator[None]:
    """Run a Celery worker in a thread of this process until the block ends; tasks queued
    meanwhile (``.delay()``, ``on_commit`` enqueues) go to it instead of running eagerly.

    Leaving the block (Ctrl-C on the web server) asks the worker to stop and waits a few seconds
    at most: a task still running (a pack build) is abandoned with the process, not waited for;
    the demo re-seeds idempotently at its next start (docs/adr/0009-demo-worker.md)."""
    from config.celery import app

    app.conf.task_always_eager = False
    app.conf.broker_url = "memory://localhost/"
    app.conf.broker_connection_retry_on_startup = False
    setup_app_for_worker(app, loglevel, None)
    worker = TestWorkController(
        app=app,
        concurrency=1,
        pool="solo",
        # Every queue production splits the work into (config/settings/celery.py): one worker does all of it here.
        queues=list(settings.KEYTRAIL_QUEUES),
        hostname=anon_nodename(),
        loglevel=loglevel,
        logfile=None,
        ready_callback=None,
        without_heartbeat=True,
        without_mingle=True,
        without_gossip=True,
    )
    thread = threading.Thread(target=worker.start, daemon=True, name="demo-celery-worker")
    thread.start()
    worker.ensure_started()
    try:
        yield
    finally:
        worker_state.should_terminate = 0
        thread.join(5)
        app.conf.task_always_eager = True


def wait_until(condition: Callable[[], bool], *, timeout: float = 900.0, every: float = 0.5, what: str = "the worker") -> None:
    """Poll ``condition`` (which reads the database) until it holds.

    Raises TimeoutError naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        close_old_connections()
        if condition():
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what} after {timeout:.0f} s")
        time.sleep(every)
