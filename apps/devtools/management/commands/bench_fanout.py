"""Benchmark the fan-out of one collection run over real Celery workers.

    DATABASE_URL=postgres://... python manage.py bench_fanout --broker redis://127.0.0.1:6379/12 --json out.json

The Scale issue's target: 20 sources collected by 2 workers in at most 0.6 x the time one
worker takes, and no worker above 500 MB during collection. By default 14 AWS accounts
(moto) and 6 Key Vaults (the HTTPS simulator), i.e. 20 sources and 48 units, collected for
the first time in each of these modes (``--modes``, ``WxC`` = W worker processes of
concurrency C):

* ``1x1`` — one worker, one pool process: the baseline;
* ``2x1`` — two workers of one pool process each (two machines' worth of workers);
* ``1x2`` — one worker with two pool processes.

Every run starts from the same state: a fresh simulated organisation (child processes,
:mod:`apps.devtools.simulators.scale`; moto's credential report and caches are per process) and a
fresh copy of a migrated throwaway database, a flushed Redis database as broker, and
workers started for that run only (:class:`apps.devtools.simulators.worker.Worker`). The run is
measured with :class:`apps.devtools.simulators.meter.Stage`: wall time, peak RSS of every worker
process (main and pool), CPU seconds of the workers, the simulators, this process and the
whole machine (the rest is PostgreSQL, Redis and whatever else runs), and which worker ran
how many units (each worker's log). ``--latency-ms`` adds a round trip to every simulated
answer, as a remote cloud would, to tell fan-out from CPU limits on a small machine;
``--aws-processes`` serves moto from several processes (one Python process is one core at most).
"""

from __future__ import annotations

import json as jsonlib
import os
import platform
import re
import statistics
from collections import Counter

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

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
from apps.devtools.simulators.meter import Stage

MODES = ("1x1", "2x1", "1x2")
RATIO_LIMIT = 0.6
# With a remote cloud's round trip per call (--latency-ms) the work waits rather than computes:
# there two workers must come closer to half the time (issue "Scale", fan-out on real latency).
RATIO_LIMIT_WITH_LATENCY = 0.55
MEMORY_LIMIT_MB = 500


def parse_modes(text: str) -> list[tuple[int, int]]:
    """``"1x1,2x1"`` → [(1, 1), (2, 1)]: (worker processes, pool processes each). The first is the baseline."""
    modes = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        match = re.fullmatch(r"(\d+)x(\d+)", part)
        if not match or int(match[1]) < 1 or int(match[2]) < 1:
            raise CommandError(f"--modes: {part!r} is not WORKERSxCONCURRENCY (e.g. 2x1)")
        modes.append((int(match[1]), int(match[2])))
    if not modes:
        raise CommandError("--modes: name at least one mode")
    return modes


def mode_name(workers: int, concurrency: int) -> str:
    return f"{workers}x{concurrency}"


def summarise(runs: list[dict], baseline: str) -> list[dict]:
    """One row per mode: median wall time over its repetitions and its ratio to the baseline's median."""
    by_mode: dict[str, list[dict]] = {}
    for run in runs:
        by_mode.setdefault(run["mode"], []).append(run)
    base = statistics.median(r["wall_seconds"] for r in by_mode[baseline])
    rows = []
    for mode, mode_runs in by_mode.items():
        wall = statistics.median(r["wall_seconds"] for r in mode_runs)
        rows.append(
            {
                "mode": mode,
                "runs": len(mode_runs),
                "wall_seconds_median": round(wall, 2),
                "ratio_to_baseline": round(wall / base, 2),
                "largest_worker_peak_mb": max(r["largest_worker_peak_mb"] for r in mode_runs),
                "machine_utilisation_median": statistics.median(r["machine_utilisation"] or 0 for r in mode_runs),
            }
        )
    return rows


def targets(summary: list[dict], baseline: str, *, latency_ms: float = 0.0) -> list[dict]:
    """The issue's fan-out targets next to the measured figures (every non-baseline mode with 2
    pool processes in all); with ``latency_ms`` the ratio's limit is the latency one."""
    limit = RATIO_LIMIT_WITH_LATENCY if latency_ms else RATIO_LIMIT
    rows = []
    for row in summary:
        workers, concurrency = map(int, row["mode"].split("x"))
        if row["mode"] != baseline and workers * concurrency == 2:
            rows.append(
                {
                    "target": f"2 workers / 1 worker, wall time ({row['mode']} / {baseline})",
                    "limit": limit,
                    "measured": row["ratio_to_baseline"],
                    "unit": "x",
                    "met": row["ratio_to_baseline"] <= limit,
                }
            )
    peak = max(row["largest_worker_peak_mb"] for row in summary)
    rows.append(
        {
            "target": "worker peak memory in collection (PSS, main + pool processes)",
            "limit": MEMORY_LIMIT_MB,
            "measured": peak,
            "unit": "MB",
            "met": peak <= MEMORY_LIMIT_MB,
        }
    )
    return rows


def cpu_floor_ratio(run: dict, baseline: dict, cores: int | None = None) -> float | None:
    """The lowest ratio to ``baseline`` that ``run`` could reach on this machine: its busy CPU
    seconds (the whole machine's: workers, simulators, PostgreSQL, Redis) cannot take less wall
    time than busy / cores. Beside the measured ratio it shows how much of the gap is CPU."""
    busy = (run.get("cpu_seconds") or {}).get("machine busy")
    wall = baseline.get("wall_seconds")
    if busy is None or not wall:
        return None
    return round(busy / (cores or os.cpu_count() or 1) / wall, 2)


def unit_timeline(run) -> list[dict]:
    """Every unit of ``run`` in the order it started: its connector and scope, when it started
    and finished (seconds after the run was created; ``finished`` is when its records were
    taken, just before its apply) and its API calls, to read the critical path."""
    rows = []
    for unit in run.units.order_by("started_at", "pk"):
        start = (unit.started_at - run.created_at).total_seconds() if unit.started_at else None
        end = (unit.finished_at - run.created_at).total_seconds() if unit.finished_at else None
        rows.append(
            {
                "unit": unit.pk,
                "connector": unit.connector,
                "scope": unit.scope,
                "region": unit.region,
                "source": unit.source_id,
                "started": round(start, 2) if start is not None else None,
                "finished": round(end, 2) if end is not None else None,
                "api_calls": sum((unit.api_calls or {}).values()),
            }
        )
    return rows


def timeline_tail(timeline: list[dict]) -> dict:
    """When the last unit started and the run's last unit finished, and which unit that was:
    after the last start, pool processes that finish have nothing left to take."""
    started = [r for r in timeline if r["started"] is not None and r["finished"] is not None]
    if not started:
        return {}
    last_start = max(r["started"] for r in started)
    last = max(started, key=lambda r: r["finished"])
    return {
        "last_unit_started": last_start,
        "last_unit_finished": last["finished"],
        "last_to_finish": f"{last['connector']} {last['scope']} (source {last['source']})",
        "last_to_finish_seconds": round(last["finished"] - last["started"], 2),
    }


class Command(BaseCommand):
    help = "Time the first collection of 20 simulated sources on 1 and on 2 real Celery workers (wall time, memory, CPU)."

    def add_arguments(self, parser):
        add_org_arguments(parser, users=3500, secrets=1400, vault_secrets=1200, vaults=6, accounts=14)
        parser.add_argument(
            "--modes", default=",".join(MODES), help="comma-separated WORKERSxCONCURRENCY, the first is the baseline (default 1x1,2x1,1x2)"
        )
        parser.add_argument("--repeat", type=int, default=1, help="run every mode this many times, interleaved")
        parser.add_argument(
            "--latency-ms", type=float, default=0.0, help="delay every simulated answer by this much, as a remote cloud's round trip would"
        )
        parser.add_argument(
            "--aws-processes",
            type=int,
            default=1,
            help="serve moto from this many processes (forked after seeding, one socket; the credential report is then ready at once)",
        )
        parser.add_argument(
            "--broker",
            default=os.environ.get("CELERY_BROKER_URL", ""),
            help="Redis URL for the workers (default CELERY_BROKER_URL); its database is flushed before every run",
        )
        parser.add_argument("--json", default="", help="also write the figures to this file")

    def handle(self, *args, **options):
        from dataclasses import replace

        from apps.accounts.roles import Role
        from apps.accounts.services import user_create
        from apps.catalog.loader import read_catalog
        from apps.catalog.services import catalog_load

        modes = parse_modes(options["modes"])
        if not options["broker"]:
            raise CommandError("bench_fanout needs a Redis broker: --broker redis://127.0.0.1:6379/N or CELERY_BROKER_URL")
        spec = replace(org_spec(options), latency_ms=options["latency_ms"], aws_processes=max(1, options["aws_processes"]))
        sources = spec.accounts + spec.vaults
        self.stdout.write(f"bench_fanout: {spec}; {sources} sources; modes {', '.join(mode_name(*m) for m in modes)}")
        settings.DEBUG = False  # measure as production runs (DEBUG logs every query's SQL)
        runs = []
        with exit_on_sigterm(), throwaway_database("bench_fanout") as name:
            self.stdout.write(f"throwaway database {name} migrated; every run collects into a fresh copy of it")
            catalog_load(data=read_catalog())
            actor = user_create(username="bench-grc", password=os.urandom(16).hex(), role=Role.GRC_LEAD)
            for repetition in range(options["repeat"]):
                for i, (workers, concurrency) in enumerate(modes):
                    runs.append(
                        self._run(
                            spec,
                            actor,
                            workers=workers,
                            concurrency=concurrency,
                            broker=options["broker"],
                            repetition=repetition,
                            copy=f"r{repetition}m{i}",
                        )
                    )
        baseline = mode_name(*modes[0])
        for run in runs:
            base = next(r for r in runs if r["repetition"] == run["repetition"] and r["mode"] == baseline)
            run["ratio_to_baseline"] = round(run["wall_seconds"] / base["wall_seconds"], 2)
            run["cpu_floor_ratio"] = cpu_floor_ratio(run, base)
        summary = summarise(runs, baseline)
        report = {
            "environment": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "postgresql": connection.pg_version,
                "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
            },
            "spec": {**spec.__dict__, "regions": list(spec.regions)},
            "baseline": baseline,
            "runs": runs,
            "summary": summary,
            "targets": targets(summary, baseline, latency_ms=spec.latency_ms),
        }
        self._print(report)
        if options["json"]:
            with open(options["json"], "w") as fh:
                jsonlib.dump(report, fh, indent=2, default=str)
            self.stdout.write(f"figures written to {options['json']}")

    def _run(self, spec, actor, *, workers: int, concurrency: int, broker: str, repetition: int, copy: str) -> dict:
        """One first collection of every source on ``workers`` workers of ``concurrency`` pool processes each."""
        from apps.devtools.simulators.scale import SimulatedOrganisation
        from apps.inventory.models import Credential
        from apps.inventory.services.sources import source_create

        mode = mode_name(workers, concurrency)
        self.stdout.write(f"{mode}: starting the simulated organisation …")
        with SimulatedOrganisation(spec) as org, database_copy(copy), broker_in_use(broker):
            org.configure()
            sources = [source_create(actor=actor, **fields) for fields in org.source_fields()]
            started = []
            try:
                for _ in range(workers):
                    started.append(start_worker(org, concurrency=concurrency, broker=broker))
                watch = {f"simulated {kind}": pid for kind, pid in org.pids().items()}
                peaks, groups = {}, {}
                for w, worker in enumerate(started, 1):
                    groups[f"worker {w}"] = worker.pids()
                    for p, pid in enumerate(groups[f"worker {w}"]):
                        peaks[f"worker {w}" if p == 0 else f"worker {w} pool {p}"] = pid
                watch.update(peaks)
                self.stdout.write(f"{mode}: {workers} worker(s) of {concurrency} pool process(es) ready; collecting …")
                with Stage(mode, watch=watch, peaks=peaks, memory_groups=groups, settle=2.0) as figures:
                    run, calls = collect(actor, sources, poll=0.25)
                taken = [len(worker.tasks_received("inventory.collect_unit")) for worker in started]
            finally:
                for worker in started:
                    worker.stop()
            if run.status != "succeeded":
                raise CommandError(f"{mode}: run #{run.pk} ended {run.status}; see its units' errors")
            unit_seconds = sorted((u.counts or {}).get("seconds", 0.0) for u in run.units.all())
            timeline = unit_timeline(run)
            collected = dict(Counter(Credential.objects.filter(disappeared_at__isnull=True).values_list("credential_type", flat=True)))
        figures.api_calls = calls
        return {
            **self._figures(
                figures, mode=mode, workers=workers, concurrency=concurrency, taken=taken, unit_seconds=unit_seconds, repetition=repetition
            ),
            "credentials": collected,
            "unit_timeline": timeline,
            "tail": timeline_tail(timeline),
        }

    @staticmethod
    def _figures(figures, *, mode, workers, concurrency, taken, unit_seconds, repetition) -> dict:
        cpu, machine = figures.cpu_seconds, figures.machine_cpu_seconds
        peaks, per_worker = figures.extra.get("peak_rss_mb_of", {}), figures.extra.get("peak_pss_mb_of", {})
        worker_cpu = round(sum(v for k, v in cpu.items() if k.startswith("worker")), 2)
        sims_cpu = round(sum(v for k, v in cpu.items() if k.startswith("simulated")), 2)
        busy = machine.get("busy")
        cores = os.cpu_count() or 1
        return {
            "mode": mode,
            "repetition": repetition,
            "workers": workers,
            "concurrency": concurrency,
            "wall_seconds": figures.wall_seconds,
            "load_average_1m_start_end": list(figures.load_average),
            "api_calls_total": figures.api_calls_total,
            "rows_written_total": figures.rows_written_total,
            "units": len(unit_seconds),
            "units_by_worker": taken,
            "cpu_seconds_by_worker": [
                round(sum(v for k, v in cpu.items() if k == f"worker {w}" or k.startswith(f"worker {w} pool")), 2)
                for w in range(1, workers + 1)
            ],
            "unit_seconds_sum": round(sum(unit_seconds), 2),
            "unit_seconds_longest": unit_seconds[-1] if unit_seconds else 0,
            "peak_rss_mb_of": peaks,
            "peak_pss_mb_by_worker": per_worker,
            "largest_worker_peak_mb": max(per_worker.values(), default=0),
            "cpu_seconds": {
                "workers": worker_cpu,
                "simulators": sims_cpu,
                "this process": cpu.get("this process"),
                "machine busy": busy,
                "machine idle": machine.get("idle"),
                "rest (PostgreSQL, Redis, other)": round(busy - worker_cpu - sims_cpu - (cpu.get("this process") or 0), 2)
                if busy is not None
                else None,
                "by process": cpu,
            },
            # Busy CPU over what the cores could give in the wall time. For the baseline on a quiet
            # machine it is also the best ratio any number of workers could reach: the same CPU
            # work cannot take less than busy / cores.
            "machine_utilisation": round(busy / cores / figures.wall_seconds, 2) if busy is not None and figures.wall_seconds else None,
        }

    def _print(self, report: dict) -> None:
        w = self.stdout.write
        w("")
        w(
            f"{report['environment']['cpus']} CPUs; load (1 min) at end {report['environment']['load_average_at_end'][0]}; "
            f"baseline {report['baseline']}"
        )
        header = (
            f"{'mode':<5} {'rep':>3} {'wall s':>7} {'ratio':>6} {'units by worker':>16} {'CPU s by worker':>16} "
            f"{'peak MB by worker':>18} {'CPU s workers':>13} {'sims':>6} {'rest':>6} {'machine busy/idle':>18} "
            f"{'util':>5} {'load 1m':>11}"
        )
        w(header)
        w("-" * len(header))
        for r in report["runs"]:
            c = r["cpu_seconds"]
            w(
                f"{r['mode']:<5} {r['repetition']:>3} {r['wall_seconds']:>7} {r['ratio_to_baseline']:>6} "
                f"{'/'.join(map(str, r['units_by_worker'])):>16} {'/'.join(map(str, r['cpu_seconds_by_worker'])):>16} "
                f"{'/'.join(map(str, r['peak_pss_mb_by_worker'].values())):>18} {c['workers']:>13} {c['simulators']:>6} "
                f"{c['rest (PostgreSQL, Redis, other)']!s:>6} {str(c['machine busy']) + '/' + str(c['machine idle']):>18} "
                f"{r['machine_utilisation']!s:>5} {'{}→{}'.format(*r['load_average_1m_start_end']):>11}"
            )
        for r in report["runs"]:
            w(
                f"peak RSS MB (each process's own high-water mark), {r['mode']} #{r['repetition']}: "
                + ", ".join(f"{k} {v}" for k, v in r["peak_rss_mb_of"].items())
            )
            w(
                f"CPU s by process, {r['mode']} #{r['repetition']}: "
                + ", ".join(f"{k} {v}" for k, v in r["cpu_seconds"]["by process"].items())
            )
            slots = r["workers"] * r["concurrency"]
            w(
                f"units, {r['mode']} #{r['repetition']}: {r['units']}, {r['unit_seconds_sum']} s inside units (longest "
                f"{r['unit_seconds_longest']} s); {slots} pool process(es) x {r['wall_seconds']} s wall = "
                f"{round(slots * r['wall_seconds'] - r['unit_seconds_sum'], 1)} s outside a unit"
            )
            if r.get("tail"):
                t = r["tail"]
                w(
                    f"tail, {r['mode']} #{r['repetition']}: last unit started at {t['last_unit_started']} s; the last to finish, "
                    f"{t['last_to_finish']} ({t['last_to_finish_seconds']} s), finished at {t['last_unit_finished']} s"
                )
        w("")
        for r in report["runs"]:
            if r["mode"] != report["baseline"]:
                w(
                    f"{r['mode']} / {report['baseline']} #{r['repetition']}: ratio {r['ratio_to_baseline']}, CPU floor "
                    f"{r['cpu_floor_ratio'] if r['cpu_floor_ratio'] is not None else '-'} (this run's busy CPU / "
                    f"{report['environment']['cpus']} cores / the baseline's wall: no ratio can be lower on this machine)"
                )
        w("")
        w(f"{'target':<62} {'limit':>8} {'measured':>10}  met")
        for t in report["targets"]:
            w(f"{t['target']:<62} {str(t['limit']) + ' ' + t['unit']:>8} {t['measured']!s:>10}  {'yes' if t['met'] else 'NO'}")
