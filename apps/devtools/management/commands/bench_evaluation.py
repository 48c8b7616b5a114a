"""Benchmark: evaluate a synthetic inventory of N credentials in a throwaway database.

    python manage.py bench_evaluation --credentials 100000 [--changed 5] [--phases] [--json out.json]

With ``--changed P`` it then changes P % of the credentials (their last use) and times a second,
incremental evaluation a minute later: how many subjects it carried and judged, and its time.

With ``--phases`` it also prints the wall and CPU seconds of each judging phase (reading facts,
fingerprints, rules, writing findings, the carried copy, the previous findings' lookups), summed
over the cold and the incremental run: timers wrapped around those functions for this command only.

The command creates its own database (``<name>_bench_evaluation``, migrated from scratch), seeds it,
times one evaluation end to end (including its commit), prints the figures and drops the
database, so the configured database is never touched.
"""

import contextlib
import functools
import os
import random
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.core.management.base import BaseCommand
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.accounts.models import User
from apps.catalog.loader import read_catalog
from apps.catalog.services import catalog_load
from apps.devtools.bench import rss_mb, throwaway_database, write_figures
from apps.devtools.simulators.inventory import seed_inventory
from apps.evaluation import judging
from apps.evaluation import services as evaluation_services
from apps.evaluation.models import Evaluation
from apps.evaluation.services import evaluation_run
from apps.inventory.models import Credential


class Command(BaseCommand):
    help = "Time an evaluation of N synthetic credentials (wall time, peak memory, queries) in a throwaway database."

    def add_arguments(self, parser):
        parser.add_argument("--credentials", type=int, default=100_000)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--changed", type=float, default=0, help="then change this % of credentials and evaluate again")
        parser.add_argument("--json", default="", help="also write the figures to this file")
        parser.add_argument("--phases", action="store_true", help="also time each judging phase (wall and CPU seconds)")

    def handle(self, *args, credentials: int, seed: int, json: str, changed: float, phases: bool, **options):
        timings: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
        with throwaway_database("bench_evaluation"), timed_phases(timings) if phases else contextlib.nullcontext():
            figures = self._run(credentials, seed, changed)
        for name, (wall, cpu) in timings.items():
            figures[f"phase_{name}_wall_s"] = round(wall, 2)
            figures[f"phase_{name}_cpu_s"] = round(cpu, 2)
        write_figures(self.stdout, f"evaluation benchmark: {credentials:,} credentials, seed {seed}", figures, json)

    def _run(self, credentials: int, seed: int, changed: float) -> dict:
        catalog_load(data=read_catalog())
        actor = User.objects.create(username="bench")
        now = datetime.now(UTC)
        t0 = time.monotonic()
        seeded = seed_inventory(credentials=credentials, seed=seed, now=now, actor=actor)
        seed_seconds = round(time.monotonic() - t0, 2)
        rss_before = rss_mb()
        with CaptureQueriesContext(connection) as queries:
            t1 = time.monotonic()
            evaluation = evaluation_run(trigger=Evaluation.Trigger.MANUAL, now=now)
            seconds = round(time.monotonic() - t1, 2)
        figures = {
            "database": connection.vendor,
            "credentials": seeded["credentials"],
            "identities": seeded["identities"],
            "seed_seconds": seed_seconds,
            "evaluation_seconds": seconds,
            "findings": evaluation.counts["findings"],
            "failed": evaluation.counts["failed"],
            "not_assessed": evaluation.counts["not_assessed"],
            "queries": len(queries),
            "rss_before_evaluation_mb": rss_before,
            "peak_rss_mb": rss_mb(),
        }
        if changed:
            figures.update(self._incremental(now, changed, seed))
        return figures

    def _incremental(self, now, changed: float, seed: int) -> dict:
        """Change ``changed`` % of the credentials' last use, then evaluate again a minute later."""
        ids = list(Credential.objects.order_by("id").values_list("id", flat=True))
        picked = random.Random(seed).sample(ids, int(len(ids) * changed / 100))
        for start in range(0, len(picked), 5000):
            Credential.objects.filter(pk__in=picked[start : start + 5000]).update(last_used_at=now - timedelta(days=3))
        db_cpu = _backend_cpu()
        with CaptureQueriesContext(connection) as queries:
            t0, cpu0 = time.monotonic(), time.process_time()
            evaluation = evaluation_run(trigger=Evaluation.Trigger.MANUAL, now=now + timedelta(minutes=1))
            seconds, cpu = round(time.monotonic() - t0, 2), round(time.process_time() - cpu0, 2)
        db_cpu = round(_backend_cpu() - db_cpu, 2) if db_cpu >= 0 else -1.0
        return {
            "changed_credentials": len(picked),
            "incremental_seconds": seconds,
            "incremental_cpu_s": cpu,
            "incremental_db_cpu_s": db_cpu,
            "incremental_carried": evaluation.carried,
            "incremental_judged": evaluation.judged,
            "incremental_findings": evaluation.counts["findings"],
            "incremental_queries": len(queries),
            "peak_rss_after_incremental_mb": rss_mb(),
        }


def _backend_cpu() -> float:
    """CPU seconds of this connection's PostgreSQL backend so far (a server on this machine);
    -1 where it cannot be read (another host, SQLite)."""
    if connection.vendor != "postgresql":
        return -1.0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return -1.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# (module, attribute, phase): the functions timed by --phases.
PHASES = (
    (judging, "run_rules", "rules"),
    (judging, "credential_fingerprints", "fingerprints"),
    (judging, "identity_fingerprint", "fingerprints"),
    (judging.ChunkJudge, "_write_findings", "write_findings"),
    (judging.ChunkJudge, "copy_carried", "copy_carried"),
    (judging.ChunkJudge, "_since", "previous_findings"),
    (judging.ChunkJudge, "_basis_carry", "basis_carry"),
    (judging.ChunkJudge, "refresh_statistics", "statistics"),
    (judging.ChunkJudge, "skip_unchanged", "skip_unchanged"),
    (evaluation_services, "iter_fact_chunks", "facts"),
)


@contextlib.contextmanager
def timed_phases(timings: dict[str, list[float]]):
    """Wrap each of :data:`PHASES` with wall and CPU timers (a generator is timed per item it
    yields); everything is put back on leaving."""

    def add(name: str, wall: float, cpu: float) -> None:
        timings[name][0] += time.monotonic() - wall
        timings[name][1] += time.process_time() - cpu

    def timed(function, name):
        if name == "facts":

            @functools.wraps(function)
            def generator(*args, **kwargs):
                items = function(*args, **kwargs)
                while True:
                    wall, cpu = time.monotonic(), time.process_time()
                    try:
                        item = next(items)
                    except StopIteration:
                        add(name, wall, cpu)
                        return
                    add(name, wall, cpu)
                    yield item

            return generator

        @functools.wraps(function)
        def call(*args, **kwargs):
            wall, cpu = time.monotonic(), time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                add(name, wall, cpu)

        return call

    saved = [(owner, attribute, getattr(owner, attribute)) for owner, attribute, _ in PHASES]
    for owner, attribute, name in PHASES:
        setattr(owner, attribute, timed(getattr(owner, attribute), name))
    try:
        yield
    finally:
        for owner, attribute, original in saved:
            setattr(owner, attribute, original)
