"""Queue separation: does a big pack build slow a collection down when each has its own worker?

    DATABASE_URL=postgres://... python manage.py bench_queues --broker redis://127.0.0.1:6379/12 --json out.json

Issue 21's target: with two workers, one on the ``collection`` queue and one on ``packs``, a
collection takes at most 10 % longer while a pack of 20,000 credentials is building than alone.

In a throwaway database: a synthetic inventory of ``--credentials`` credentials (as
``bench_pack``), evaluated, an engagement over everything; then, each time in a fresh copy of
that database with a fresh simulated organisation (as ``bench_fanout``) and a flushed broker:

1. **alone** — the first collection of the simulated organisation's sources;
2. **beside a pack** — a pack of the whole engagement is requested first; once its worker has
   started building it, the same collection starts. The pack's build must still be running
   when the collection ends for the figure to mean anything (the output says how long they
   overlapped).

Both runs use the same two workers' layout: ``-Q collection,evaluation,default`` and ``-Q packs``,
one pool process each. ``--repeat`` interleaves the two to even out a shared machine's load.
"""

from __future__ import annotations

import json as jsonlib
import os
import time
from datetime import UTC, date, datetime, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from apps.devtools.management.commands.bench_pack import _CREDENTIAL_VERSIONS, _IDENTITY_VERSIONS
from apps.devtools.simulators.bench import (
    add_org_arguments,
    broker_in_use,
    collect,
    database_copy,
    exit_on_sigterm,
    org_spec,
    start_worker,
    throwaway_database,
)

LIMIT = 1.10


class Command(BaseCommand):
    help = "Time a collection alone and beside a 20,000-credential pack build, on one worker per queue."

    def add_arguments(self, parser):
        add_org_arguments(parser, users=1500, secrets=600, vault_secrets=600, vaults=2, accounts=3)
        parser.add_argument("--credentials", type=int, default=20_000, help="the pack's inventory (synthetic, as bench_pack)")
        parser.add_argument("--repeat", type=int, default=1)
        parser.add_argument("--broker", default=os.environ.get("CELERY_BROKER_URL", ""))
        parser.add_argument("--json", default="")

    def handle(self, *args, **options):
        from django.conf import settings

        from apps.accounts.roles import Role
        from apps.accounts.services import user_create
        from apps.catalog.loader import read_catalog
        from apps.catalog.services import catalog_load
        from apps.devtools.simulators.inventory import seed_inventory
        from apps.evaluation.models import Evaluation
        from apps.evaluation.services import evaluation_run
        from apps.evidence.models import Engagement

        if not options["broker"]:
            raise CommandError("bench_queues needs a Redis broker: --broker redis://127.0.0.1:6379/N or CELERY_BROKER_URL")
        settings.DEBUG = False
        spec = org_spec(options)
        runs: list[dict] = []
        load_start = [round(x, 2) for x in os.getloadavg()]
        with exit_on_sigterm(), throwaway_database("bench_queues"):
            catalog_load(data=read_catalog())
            actor = user_create(username="bench-grc", password=os.urandom(16).hex(), role=Role.GRC_LEAD)
            now = datetime.now(UTC) - timedelta(minutes=5)
            seeded = seed_inventory(credentials=options["credentials"], seed=7, now=now, actor=actor)
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(_CREDENTIAL_VERSIONS)
                cursor.execute(_IDENTITY_VERSIONS)
            evaluation_run(trigger=Evaluation.Trigger.MANUAL, now=now)
            engagement = Engagement.objects.create(
                name="bench", period_start=date(now.year, 1, 1), period_end=date(now.year, 12, 31), created_by=actor
            )
            self.stdout.write(f"bench_queues: {seeded['credentials']:,} credentials for the pack; collecting {spec}")
            for repetition in range(options["repeat"]):
                for mode in ("alone", "beside a pack"):
                    runs.append(self._run(spec, actor, engagement.pk, mode=mode, broker=options["broker"], copy=f"r{repetition}{mode[0]}"))
                    self.stdout.write(f"  {runs[-1]}")
        alone = [r["collection_s"] for r in runs if r["mode"] == "alone"]
        beside = [r["collection_s"] for r in runs if r["mode"] == "beside a pack"]
        ratio = round(sum(beside) / sum(alone), 3)
        report = {
            "cpus": os.cpu_count(),
            "load_average_start": load_start,
            "load_average_end": [round(x, 2) for x in os.getloadavg()],
            "spec": spec.__dict__ | {"regions": list(spec.regions)},
            "credentials_in_pack": seeded["credentials"],
            "runs": runs,
            "collection_ratio_beside_pack_to_alone": ratio,
            "target": f"<= {LIMIT}",
            "met": ratio <= LIMIT,
        }
        self.stdout.write(f"collection beside a pack / alone: {ratio} (target <= {LIMIT}: {'met' if ratio <= LIMIT else 'NOT met'})")
        if options["json"]:
            with open(options["json"], "w") as fh:
                jsonlib.dump(report, fh, indent=2, default=str)

    def _run(self, spec, actor, engagement_pk: int, *, mode: str, broker: str, copy: str) -> dict:
        from apps.devtools.simulators.scale import SimulatedOrganisation
        from apps.evidence.models import Engagement, Pack
        from apps.evidence.services import pack_request
        from apps.inventory.services.sources import source_create

        with SimulatedOrganisation(spec) as org, database_copy(copy), broker_in_use(broker):
            org.configure()
            sources = [source_create(actor=actor, **fields) for fields in org.source_fields()]
            workers = []
            try:
                workers.append(start_worker(org, concurrency=1, broker=broker, queues=["collection", "evaluation", "default"]))
                workers.append(start_worker(org, concurrency=1, broker=broker, queues=["packs"]))
                pack = None
                if mode == "beside a pack":
                    pack = pack_request(actor=actor, engagement=Engagement.objects.get(pk=engagement_pk))
                    deadline = time.monotonic() + 120
                    while Pack.objects.get(pk=pack.pk).state == Pack.State.QUEUED:
                        if time.monotonic() > deadline:
                            raise CommandError("the pack worker never started the build")
                        time.sleep(0.1)
                started = time.monotonic()
                run, _calls = collect(actor, sources, poll=0.25)
                collection_s = round(time.monotonic() - started, 2)
                if run.status != "succeeded":
                    raise CommandError(f"{mode}: run #{run.pk} ended {run.status}")
                figures = {"mode": mode, "collection_s": collection_s, "units": run.units.count()}
                if pack is not None:
                    still_building = Pack.objects.get(pk=pack.pk).state == Pack.State.BUILDING
                    deadline = time.monotonic() + 1800
                    while not Pack.objects.get(pk=pack.pk).is_finished:
                        if time.monotonic() > deadline:
                            raise CommandError("the pack did not finish in 30 minutes")
                        time.sleep(0.5)
                    pack = Pack.objects.get(pk=pack.pk)
                    figures.update(
                        pack_state=pack.state,
                        pack_build_s=round((pack.finished_at - pack.started_at).total_seconds(), 2),
                        pack_still_building_when_collection_ended=still_building,
                        pack_collection_units_on_pack_worker=len(workers[1].tasks_received("inventory.collect_unit")),
                    )
            finally:
                for worker in workers:
                    worker.stop()
        return figures
