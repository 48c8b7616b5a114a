"""What the collection benchmarks share (``manage.py bench_scale``, ``manage.py bench_fanout``):
the simulated organisation's command-line options, a throwaway database, a real worker
pointed at that database and at the simulators, and a collection run waited for.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.core.management.base import CommandError
from django.db import connection

from apps.devtools.bench import throwaway_database as core_throwaway_database
from apps.devtools.simulators.scale import OrgSpec, SimulatedOrganisation
from apps.devtools.simulators.worker import Worker, reset_broker_connections


def add_org_arguments(parser, *, users: int, secrets: int, vault_secrets: int, vaults: int, accounts: int) -> None:
    """The simulated organisation's size options (see :class:`OrgSpec`), with a command's defaults."""
    parser.add_argument("--users", type=int, default=users, help="IAM users in total, split over the accounts")
    parser.add_argument("--keys-per-user", type=int, default=2, help="0-2, or -1 for the realistic mix (about one)")
    parser.add_argument("--secrets", type=int, default=secrets, help="Secrets Manager secrets, split over accounts and 2 regions")
    parser.add_argument("--vault-secrets", type=int, default=vault_secrets, help="Key Vault secrets, split over the vaults")
    parser.add_argument("--vaults", type=int, default=vaults)
    parser.add_argument("--accounts", type=int, default=accounts)
    parser.add_argument("--seed", type=int, default=42)


def org_spec(options: dict) -> OrgSpec:
    keys = None if options["keys_per_user"] < 0 else options["keys_per_user"]
    return OrgSpec(
        accounts=options["accounts"],
        users=options["users"],
        keys_per_user=keys,
        secrets=options["secrets"],
        vaults=options["vaults"],
        vault_secrets=options["vault_secrets"],
        seed=options["seed"],
    )


@contextmanager
def exit_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM (``timeout``, a cancelled job) into SystemExit inside the block, so that the
    benchmark's ``finally`` blocks run: its workers have a session of their own and would
    otherwise outlive it, taking the next benchmark's tasks from the broker."""
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def throwaway_database(suffix: str) -> Iterator[str]:
    """:func:`apps.devtools.bench.throwaway_database`, for PostgreSQL only: the collection
    benchmarks measure it (COPY, server-side cursors)."""
    if connection.vendor != "postgresql":
        raise CommandError("the collection benchmarks measure PostgreSQL: set DATABASE_URL=postgres://...")
    with core_throwaway_database(suffix) as name:
        yield name


@contextmanager
def database_copy(suffix: str) -> Iterator[str]:
    """A copy of the current (throwaway) database as it is now (PostgreSQL ``CREATE DATABASE …
    TEMPLATE``: a fraction of a second, no migrations), used in its place until the block
    ends and then dropped; yields its name. Every run of a comparison starts from the same state."""
    original = connection.settings_dict["NAME"]
    connection.close()  # a template database must have no other sessions
    connection.creation.clone_test_db(suffix=suffix, verbosity=0, keepdb=False)
    copy = connection.creation.get_test_db_clone_settings(suffix)["NAME"]
    connection.settings_dict["NAME"] = copy
    try:
        yield copy
    finally:
        connection.close()
        connection.settings_dict["NAME"] = original
        connection.creation.destroy_test_db(original, verbosity=0, suffix=suffix)


@contextmanager
def broker_in_use(broker: str) -> Iterator[None]:
    """Publish this process's tasks to ``broker`` (flushed first) instead of running them
    eagerly, until the block ends."""
    import redis

    from config.celery import app

    if not broker:
        raise CommandError("real workers need a Redis broker: --broker redis://127.0.0.1:6379/N or CELERY_BROKER_URL")
    redis.Redis.from_url(broker).flushdb()
    saved = {key: app.conf[key] for key in ("task_always_eager", "broker_url")}
    app.conf.update(task_always_eager=False, broker_url=broker)
    reset_broker_connections(app)
    try:
        yield
    finally:
        app.conf.update(saved)
        reset_broker_connections(app)


def start_worker(
    org: SimulatedOrganisation, *, concurrency: int, broker: str, log_dir: Path | None = None, queues: list[str] | None = None
) -> Worker:
    """A real worker on ``broker`` against this process's current database and ``org``'s
    simulators, configured like a benchmark process (DEBUG off, no evaluation after collection)."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DJANGO_DEBUG": "false",
        "DATABASE_URL": f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "CELERY_BROKER_URL": broker,
        "KEYTRAIL_EVALUATE_AFTER_COLLECTION": "false",
        "AWS_CREDENTIAL_REPORT_POLL_INTERVAL": "0.25",
        **org.env(),
    }
    log_dir = log_dir or Path(tempfile.mkdtemp(prefix="keytrail-bench-worker-"))
    return Worker(env, log_dir / f"worker-{time.monotonic_ns()}.log", concurrency=concurrency, queues=queues).start()


def collect(actor, sources, *, timeout: float = 1800, poll: float = 0.1) -> tuple[object, dict]:
    """One collection run of ``sources``, eager or on workers (then waited for, reading the
    run every ``poll`` seconds); returns (run, API calls by operation)."""
    from apps.inventory.models import CollectionUnit
    from apps.inventory.services.collection import collection_start

    run = collection_start(actor=actor, sources=sources)
    run.refresh_from_db()
    deadline = time.monotonic() + timeout
    while not run.is_finished:
        if time.monotonic() > deadline:
            raise CommandError(f"collection run #{run.pk} did not finish within {timeout:.0f} s")
        time.sleep(poll)
        run.refresh_from_db()
    calls: Counter = Counter()
    for unit_calls in CollectionUnit.objects.filter(run=run).values_list("api_calls", flat=True):
        calls.update(unit_calls or {})
    return run, dict(calls)
