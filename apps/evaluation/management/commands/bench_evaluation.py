"""Benchmark: evaluate a synthetic inventory of N credentials; everything is rolled back.

    python manage.py bench_evaluation --credentials 100000 [--json out.json]
"""

import resource
import time
from datetime import UTC, datetime

from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from apps.accounts.models import User
from apps.evaluation.models import Evaluation
from apps.evaluation.services import evaluation_run
from apps.simulators.inventory import seed_inventory


class _Rollback(Exception):
    pass


class Command(BaseCommand):
    help = "Time an evaluation of N synthetic credentials (peak memory, queries); the database is left unchanged."

    def add_arguments(self, parser):
        parser.add_argument("--credentials", type=int, default=100_000)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--json", default="", help="also write the figures to this file")

    def handle(self, *args, credentials: int, seed: int, json: str, **options):
        figures = {}
        try:
            with transaction.atomic():
                actor = User.objects.create(username=f"bench-{time.monotonic_ns()}")
                now = datetime.now(UTC)
                t0 = time.monotonic()
                seeded = seed_inventory(credentials=credentials, seed=seed, now=now, actor=actor)
                figures["seed_seconds"] = round(time.monotonic() - t0, 2)
                rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                with CaptureQueriesContext(connection) as queries:
                    t1 = time.monotonic()
                    evaluation = evaluation_run(trigger=Evaluation.Trigger.MANUAL, now=now)
                    figures["evaluation_seconds"] = round(time.monotonic() - t1, 2)
                figures.update(
                    database=connection.vendor, credentials=seeded["credentials"], identities=seeded["identities"],
                    findings=evaluation.counts["findings"], failed=evaluation.counts["failed"],
                    not_assessed=evaluation.counts["not_assessed"], queries=len(queries),
                    peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                    rss_before_evaluation_mb=round(rss_before, 1),
                )
                raise _Rollback
        except _Rollback:
            pass
        width = max(map(len, figures))
        self.stdout.write(f"evaluation benchmark ({credentials:,} credentials requested, rolled back)")
        for key, value in figures.items():
            self.stdout.write(f"  {key:<{width}}  {value}")
        if json:
            import json as _json

            with open(json, "w") as fh:
                _json.dump(figures, fh, indent=2)
