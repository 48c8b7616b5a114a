"""Benchmark: evaluate a synthetic inventory of N credentials in a throwaway database.

    python manage.py bench_evaluation --credentials 100000 [--json out.json]

The command creates its own database (``test_<name>``, migrated from scratch), seeds it,
times one evaluation end to end (including its commit), prints the figures and drops the
database, so the configured database is never touched.
"""

import json as jsonlib
import resource
import time
from datetime import UTC, datetime

from django.core.management.base import BaseCommand
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.accounts.models import User
from apps.catalog.loader import read_catalog
from apps.catalog.services import catalog_load
from apps.evaluation.models import Evaluation
from apps.evaluation.services import evaluation_run
from apps.simulators.inventory import seed_inventory


def _rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


class Command(BaseCommand):
    help = "Time an evaluation of N synthetic credentials (wall time, peak memory, queries) in a throwaway database."

    def add_arguments(self, parser):
        parser.add_argument("--credentials", type=int, default=100_000)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--json", default="", help="also write the figures to this file")

    def handle(self, *args, credentials: int, seed: int, json: str, **options):
        old_name = connection.settings_dict["NAME"]
        connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
        try:
            figures = self._run(credentials, seed)
        finally:
            connection.creation.destroy_test_db(old_name, verbosity=0)
        width = max(map(len, figures))
        self.stdout.write(f"evaluation benchmark: {credentials:,} credentials, seed {seed}")
        for key, value in figures.items():
            self.stdout.write(f"  {key:<{width}}  {value}")
        if json:
            with open(json, "w") as fh:
                jsonlib.dump(figures, fh, indent=2)

    def _run(self, credentials: int, seed: int) -> dict:
        catalog_load(data=read_catalog())
        actor = User.objects.create(username="bench")
        now = datetime.now(UTC)
        t0 = time.monotonic()
        seeded = seed_inventory(credentials=credentials, seed=seed, now=now, actor=actor)
        seed_seconds = round(time.monotonic() - t0, 2)
        rss_before = _rss_mb()
        with CaptureQueriesContext(connection) as queries:
            t1 = time.monotonic()
            evaluation = evaluation_run(trigger=Evaluation.Trigger.MANUAL, now=now)
            seconds = round(time.monotonic() - t1, 2)
        return {
            "database": connection.vendor, "credentials": seeded["credentials"], "identities": seeded["identities"],
            "seed_seconds": seed_seconds, "evaluation_seconds": seconds, "findings": evaluation.counts["findings"],
            "failed": evaluation.counts["failed"], "not_assessed": evaluation.counts["not_assessed"], "queries": len(queries),
            "rss_before_evaluation_mb": rss_before, "peak_rss_mb": _rss_mb(),
        }
