"""Benchmark the whole pipeline on a simulated organisation of a given size.

    DATABASE_URL=postgres://... python manage.py bench_scale --users 5000 --secrets 2000 \\
        --vault-secrets 2000 --vaults 3 --accounts 1 --seed 42 --json out.json

Starts the simulated organisation in child processes (:mod:`apps.devtools.simulators.scale`),
creates and migrates a throwaway database next to the configured one, and measures, each
as a stage: the bare-SDK reading of the same data (:mod:`apps.devtools.simulators.bare_sdk`), the
first collection of every source through ``collection_start`` (Celery eager: the units run
one after another in this process, which is therefore also "the worker"; or ``--workers N``
on a real worker), a repeat collection of the unchanged organisation, an evaluation, and a
whole evidence pack (``engagement_create`` + ``pack_request``). Prints one table (wall time,
peak RSS, API calls, rows written, queries per stage), API calls by operation, and the
issue's targets with the measured figure; ``--json`` writes the same for comparison
between commits. The database is dropped at the end; the configured one is not touched.
"""

from __future__ import annotations

import json as jsonlib
import os
import platform
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from apps.devtools.simulators.bench import (
    add_org_arguments,
    broker_in_use,
    collect,
    exit_on_sigterm,
    org_spec,
    start_worker,
    throwaway_database,
)
from apps.devtools.simulators.meter import Stage, StageFigures

PER_USER_IAM_CALLS = ("ListAccessKeys", "GetLoginProfile", "GetAccessKeyLastUsed", "ListMFADevices")
# No account-wide call lists IAM users' SSH keys or service-specific credentials: one call of
# each per user, reused from state for AWS_IAM_USER_CREDENTIALS_REFRESH_HOURS (docs/connectors.md).
PER_USER_LISTINGS = ("ListSSHPublicKeys", "ListServiceSpecificCredentials")


def build_pack(actor, *, timeout: float = 1800):
    """A whole evidence pack of everything, through ``engagement_create`` and ``pack_request``
    (built eagerly here, or by the worker), waited for; returns the Pack."""
    from django.utils import timezone

    from apps.evidence.services import engagement_create, pack_request

    today = timezone.now().date()
    engagement = engagement_create(actor=actor, name="bench_scale", period_start=today.replace(month=1, day=1), period_end=today)
    pack = pack_request(actor=actor, engagement=engagement)
    deadline = time.monotonic() + timeout
    pack.refresh_from_db()
    while not pack.is_finished:
        if time.monotonic() > deadline:
            raise CommandError(f"pack {pack.pack_id} did not finish within {timeout:.0f} s")
        time.sleep(0.2)
        pack.refresh_from_db()
    return pack


def targets(stages: dict[str, StageFigures], credentials: int) -> list[dict]:
    """The Scale issue's targets next to the measured figure (None: not measured in this run)."""
    first, repeat, bare = stages.get("first collection"), stages.get("repeat collection"), stages.get("bare SDK")
    evaluation, pack = stages.get("evaluation"), stages.get("evidence pack")
    rows = []

    def add(target: str, measured, limit, unit: str = "s"):
        rows.append(
            {"target": target, "limit": limit, "measured": measured, "unit": unit, "met": None if measured is None else measured <= limit}
        )

    add("first collection, all sources, persisted", first and first.wall_seconds, 30)
    add("first collection / bare SDK", first and bare and round(first.wall_seconds / bare.wall_seconds, 2), 1.5, "x")
    add("repeat collection, unchanged organisation", repeat and repeat.wall_seconds, 10)
    add("per-user IAM calls on repeat", repeat and sum(repeat.api_calls.get(op, 0) for op in PER_USER_IAM_CALLS), 0, "calls")
    add(
        "SSH-key and service-credential calls on repeat (listing reused within its refresh window)",
        repeat and sum(repeat.api_calls.get(op, 0) for op in PER_USER_LISTINGS),
        0,
        "calls",
    )
    add("evaluation", evaluation and evaluation.wall_seconds, 3)
    add(f"evidence pack time ({credentials:,} credentials; target at 20,000)", pack and pack.wall_seconds, 60)
    pack_peak = pack and (max(pack.extra["peak_rss_mb_of"].values()) if pack.extra.get("peak_rss_mb_of") else pack.peak_rss_mb)
    add("evidence pack peak memory (the building process)", pack_peak, 600, "MB")
    if first and first.extra.get("peak_rss_mb_of"):
        add("worker peak memory during first collection (largest process)", max(first.extra["peak_rss_mb_of"].values()), 500, "MB")
    else:
        add("collecting process (eager: the worker) peak memory", first and first.peak_rss_mb, 500, "MB")
    return rows


class Command(BaseCommand):
    help = "Benchmark collection, evaluation (and packs) on a simulated organisation; print a table per stage."

    def add_arguments(self, parser):
        add_org_arguments(parser, users=5000, secrets=2000, vault_secrets=2000, vaults=3, accounts=1)
        parser.add_argument("--json", default="", help="also write the figures to this file")
        parser.add_argument("--skip-bare", action="store_true", help="leave out the bare-SDK comparison row")
        parser.add_argument(
            "--workers",
            type=int,
            default=0,
            help="collect on a real Celery worker with this many pool processes (0: eager, in this process)",
        )
        parser.add_argument(
            "--broker",
            default=os.environ.get("CELERY_BROKER_URL", ""),
            help="Redis URL for --workers (default CELERY_BROKER_URL); the database is flushed",
        )
        parser.add_argument(
            "--profile",
            default="",
            metavar="DIR",
            help="write a pyinstrument profile of each keytrail stage to DIR (slows the stages down)",
        )

    def handle(self, *args, **options):
        from apps.devtools.simulators.scale import SimulatedOrganisation

        spec = org_spec(options)
        self.stdout.write(f"bench_scale: {spec}")
        self.stdout.write("starting the simulated organisation (moto and Key Vault simulator processes) …")
        with exit_on_sigterm(), SimulatedOrganisation(spec) as org:
            org.configure()
            self.stdout.write(f"  seeded in {org.seed_seconds} s; AWS at {org.aws_url}; {len(org.vaults)} vaults")
            self.stdout.write(f"creating and migrating the throwaway database {connection.settings_dict['NAME']}_bench_scale …")
            with throwaway_database("bench_scale"):
                report = self._run(
                    org,
                    skip_bare=options["skip_bare"],
                    profile_dir=options["profile"],
                    workers=options["workers"],
                    broker=options["broker"],
                )
        report["spec"] = {**spec.__dict__, "regions": list(spec.regions)}
        self._print(report)
        if options["json"]:
            with open(options["json"], "w") as fh:
                jsonlib.dump(report, fh, indent=2, default=str)
            self.stdout.write(f"figures written to {options['json']}")

    def _run(self, org, *, skip_bare: bool, profile_dir: str, workers: int = 0, broker: str = "") -> dict:
        from apps.accounts.roles import Role
        from apps.accounts.services import user_create
        from apps.catalog.loader import read_catalog
        from apps.catalog.services import catalog_load
        from apps.inventory.services.sources import source_create
        from config.celery import app

        # Measure as production runs: DEBUG (config.settings.local) would log every query's SQL.
        settings.DEBUG = False
        # Eager unless --workers: the units run here, one after another; this process is the worker.
        app.conf.task_always_eager = True
        settings.KEYTRAIL_EVALUATE_AFTER_COLLECTION = False  # the evaluation is its own stage
        settings.AWS_CREDENTIAL_REPORT_POLL_INTERVAL = min(settings.AWS_CREDENTIAL_REPORT_POLL_INTERVAL, 0.25)
        catalog_load(data=read_catalog())
        actor = user_create(username="bench-grc", password=os.urandom(16).hex(), role=Role.GRC_LEAD)
        sources = [source_create(actor=actor, **fields) for fields in org.source_fields()]
        watch = {f"simulated {kind}": pid for kind, pid in org.pids().items()}
        if not workers:
            return self._stages(
                org, actor, sources, watch=watch, peaks={}, skip_bare=skip_bare, profile_dir=profile_dir, mode="celery eager (this process)"
            )
        with broker_in_use(broker):
            worker = start_worker(org, concurrency=workers, broker=broker)
            self.stdout.write(f"  worker with {workers} pool processes (log {worker.log})")
            peaks = {("worker" if i == 0 else f"worker pool {i}"): pid for i, pid in enumerate(worker.pids())}
            watch.update(peaks)
            try:
                return self._stages(
                    org,
                    actor,
                    sources,
                    watch=watch,
                    peaks=peaks,
                    skip_bare=skip_bare,
                    profile_dir=profile_dir,
                    mode=f"celery worker, {workers} pool processes",
                )
            finally:
                worker.stop()

    def _stages(self, org, actor, sources, *, watch, peaks, skip_bare: bool, profile_dir: str, mode: str) -> dict:
        from apps.devtools.simulators.bare_sdk import read_organisation
        from apps.evaluation.models import Evaluation
        from apps.evaluation.services import evaluation_run
        from apps.inventory.models import Credential, Identity

        stages: dict[str, StageFigures] = {}

        if not skip_bare:
            self.stdout.write("bare SDK: reading the same data with plain boto3 / azure loops …")
            with Stage("bare SDK", database=False, watch=watch) as figures:
                calls, items = read_organisation(org, concurrency=settings.AWS_IAM_PER_USER_CONCURRENCY)
            figures.api_calls, figures.extra = calls, {"items": items, "per_user_concurrency": settings.AWS_IAM_PER_USER_CONCURRENCY}
            stages[figures.name] = figures

        for name in ("first collection", "repeat collection"):
            self.stdout.write(f"{name} …")
            with Stage(name, profile_dir=profile_dir, watch=watch, peaks=peaks, settle=2.0 if peaks else 0.0) as figures:
                run, calls = collect(actor, sources)
            figures.api_calls = calls
            figures.extra.update({"run_status": run.status, "units": run.units.count(), "mode": mode})
            if run.status != "succeeded":
                # The throwaway database is dropped on the way out: name each failed unit's errors now.
                failed = [
                    f"{unit.scope} ({unit.connector}): {'; '.join(str(e) for e in unit.errors)[:600] or unit.status}"
                    for unit in run.units.exclude(status="succeeded").order_by("pk")
                ]
                raise CommandError(f"{name}: run #{run.pk} ended {run.status}; failed units: " + " | ".join(failed))
            stages[name] = figures

        self.stdout.write("evaluation …")
        with Stage("evaluation", profile_dir=profile_dir, watch=watch) as figures:
            evaluation = evaluation_run(trigger=Evaluation.Trigger.MANUAL)
        figures.extra = {"findings": evaluation.counts.get("findings"), "failed": evaluation.counts.get("failed")}
        stages[figures.name] = figures

        self.stdout.write("evidence pack …")
        with Stage("evidence pack", profile_dir=profile_dir, watch=watch, peaks=peaks, settle=2.0 if peaks else 0.0) as figures:
            pack = build_pack(actor)
        figures.extra.update({"pack_state": pack.state, "pack_bytes": pack.size, "pack_timings": pack.timings, "pack_error": pack.error})
        stages[figures.name] = figures
        if pack.file:
            pack.file.storage.delete(pack.file.name)  # the benchmark's pack is not kept
        if pack.state != "succeeded":
            raise CommandError(f"the evidence pack failed: {pack.error}")

        credentials = Credential.objects.filter(disappeared_at__isnull=True).count()
        inventory = {
            "credentials": credentials,
            "identities": Identity.objects.filter(disappeared_at__isnull=True).count(),
            "accounts": org.accounts,
            "vaults": org.vaults,
        }
        return {
            "environment": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "postgresql": connection.pg_version,
                "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
            },
            "seed_seconds": org.seed_seconds,
            "inventory": inventory,
            "stages": [s.as_dict() for s in stages.values()],
            "targets": targets(stages, credentials),
        }

    def _print(self, report: dict) -> None:
        w = self.stdout.write
        inv = report["inventory"]
        w("")
        w(
            f"inventory: {inv['credentials']:,} credentials, {inv['identities']:,} identities; "
            f"{report['environment']['cpus']} CPUs, load (1 min) at end {report['environment']['load_average_at_end'][0]}"
        )
        header = (
            f"{'stage':<20} {'wall s':>8} {'peak RSS MB':>12} {'API calls':>10} {'rows written':>13} {'queries':>8} "
            f"{'CPU s here':>11} {'CPU s sims':>11} {'CPU s worker':>13} {'load 1m':>12}"
        )
        w(header)
        w("-" * len(header))
        for s in report["stages"]:
            load = "{}→{}".format(*s["load_average_1m_start_end"])
            cpu = s["cpu_seconds"]
            sims = round(sum(v for k, v in cpu.items() if k.startswith("simulated")), 1)
            worker = round(sum(v for k, v in cpu.items() if k.startswith("worker")), 1) if any(k.startswith("worker") for k in cpu) else "-"
            w(
                f"{s['stage']:<20} {s['wall_seconds']:>8} {s['peak_rss_mb']!s:>12} {s['api_calls_total']:>10,} "
                f"{s['rows_written_total']:>13,} {s['queries']:>8,} {cpu.get('this process', '-')!s:>11} {sims!s:>11} {worker!s:>13} {load:>12}"
            )
        for s in report["stages"]:
            if s.get("peak_rss_mb_of"):
                w(f"peak RSS MB of the worker's processes, {s['stage']}: " + ", ".join(f"{k} {v}" for k, v in s["peak_rss_mb_of"].items()))
        w("")
        for s in report["stages"]:
            if s["api_calls"]:
                w(f"API calls, {s['stage']}: " + ", ".join(f"{op} {n:,}" for op, n in sorted(s["api_calls"].items(), key=lambda x: -x[1])))
        for s in report["stages"]:
            if s["rows_written"]:
                top = sorted(s["rows_written"].items(), key=lambda x: -x[1])[:8]
                w(f"rows written, {s['stage']}: " + ", ".join(f"{t} {n:,}" for t, n in top))
        w("")
        w(f"{'target':<62} {'limit':>8} {'measured':>10}  met")
        for t in report["targets"]:
            met = "-" if t["met"] is None else ("yes" if t["met"] else "NO")
            measured = "not run" if t["measured"] is None else t["measured"]
            w(f"{t['target']:<62} {str(t['limit']) + ' ' + t['unit']:>8} {measured!s:>10}  {met}")
