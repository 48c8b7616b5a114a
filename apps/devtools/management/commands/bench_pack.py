"""Benchmark: build a whole evidence pack for N synthetic credentials in a throwaway database.

    python manage.py bench_pack --credentials 20000 [--sample 25] [--json out.json]

Like ``bench_evaluation`` it creates its own database (``<name>_bench_pack``, PostgreSQL), seeds the
synthetic inventory (apps/devtools/simulators/inventory.py), gives every row its version (the seeder
writes current rows only; a pack reads the versions valid at its as-of time), evaluates, then
times gather → JSON → OSCAL → XLSX → PDF → manifest + zip and prints per-stage wall time, CPU
seconds and peak RSS (VmHWM reset at each stage's start, so the pack's peak is its largest stage's,
not the seeding's), queries and file sizes; the build's progress (percent and stage, as the pack
page shows it) goes to stderr. The configured database is never touched.
"""

import gc
import os
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from apps.accounts.models import User
from apps.catalog.loader import read_catalog
from apps.catalog.services import catalog_load
from apps.core.isotime import iso_utc
from apps.core.progress import TerminalProgress
from apps.devtools.bench import peak_rss_mb, reset_peak_rss, rss_mb, throwaway_database, write_figures
from apps.devtools.simulators.inventory import seed_inventory
from apps.evaluation.models import Evaluation
from apps.evaluation.services import evaluation_run
from apps.evidence.builder import build_files
from apps.evidence.gather import default_seed, gather
from apps.evidence.models import Engagement

_CREDENTIAL_VERSIONS = """
INSERT INTO inventory_credentialversion (credential_id, data, fingerprint, valid_from, valid_to, first_snapshot_id)
SELECT c.id, jsonb_build_object(
    'name', c.name, 'identity_external_id', i.external_id, 'enabled', c.enabled, 'created_at', to_jsonb(c.created_at),
    'last_rotated_at', to_jsonb(c.last_rotated_at), 'last_used_at', to_jsonb(c.last_used_at), 'expires_at', to_jsonb(c.expires_at),
    'rotation_enabled', c.rotation_enabled, 'rotation_interval_days', c.rotation_interval_days, 'tags', c.tags, 'attributes', c.attributes),
  c.fingerprint, c.first_seen_at, NULL, s.id
FROM inventory_credential c LEFT JOIN inventory_identity i ON i.id = c.identity_id
JOIN inventory_snapshot s ON s.source_id = c.source_id AND s.scope = c.scope
"""
_IDENTITY_VERSIONS = """
INSERT INTO inventory_identityversion (identity_id, data, fingerprint, valid_from, valid_to, first_snapshot_id)
SELECT i.id, jsonb_build_object('name', i.name, 'kind', i.kind, 'created_at', to_jsonb(i.created_at), 'privileged', i.privileged,
    'mfa_active', i.mfa_active, 'tags', i.tags), i.fingerprint, i.first_seen_at, NULL, s.id
FROM inventory_identity i JOIN inventory_snapshot s ON s.source_id = i.source_id AND s.scope = i.scope
"""


class Command(BaseCommand):
    help = "Time a whole evidence pack of N synthetic credentials (per stage, peak memory, queries, sizes) in a throwaway database."

    def add_arguments(self, parser):
        parser.add_argument("--credentials", type=int, default=20_000)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--sample", type=int, default=25)
        parser.add_argument("--keep", default="", help="copy the built zip to this path")
        parser.add_argument("--json", default="", help="also write the figures to this file")

    def handle(self, *args, credentials: int, seed: int, sample: int, keep: str, json: str, **options):
        if connection.vendor != "postgresql":
            raise CommandError("bench_pack needs PostgreSQL (set DATABASE_URL)")
        with throwaway_database("bench_pack"):
            figures = self._run(credentials, seed, sample, keep)
        write_figures(self.stdout, f"evidence pack benchmark: {credentials:,} credentials, seed {seed}, sample {sample}", figures, json)

    def _run(self, credentials: int, seed: int, sample: int, keep: str) -> dict:
        catalog_load(data=read_catalog())
        actor = User.objects.create(username="bench")
        now = datetime.now(UTC) - timedelta(minutes=5)
        t0 = time.monotonic()
        seeded = seed_inventory(credentials=credentials, seed=seed, now=now, actor=actor)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_CREDENTIAL_VERSIONS)
            cursor.execute(_IDENTITY_VERSIONS)
        evaluation_run(trigger=Evaluation.Trigger.MANUAL, now=now)
        engagement = Engagement.objects.create(
            name="bench", period_start=date(now.year, 1, 1), period_end=date(now.year, 12, 31), created_by=actor
        )
        setup_seconds = round(time.monotonic() - t0, 2)
        as_of = datetime.now(UTC)
        rss_before = rss_mb()
        gc.collect()
        peak_reset = reset_peak_rss()  # the pack's own peak, not the seeding's
        rss_at_start = peak_rss_mb("VmRSS")  # what the seeding left resident (Python keeps freed memory)
        stages: dict[str, float] = {}
        # Per stage (gather, each file, manifest + zip): its own peak RSS (VmHWM reset at each stage's
        # start) and the process's CPU seconds, which the other work on the machine does not inflate.
        stage_peaks: dict[str, float] = {}
        stage_cpu: dict[str, float] = {}
        cpu_at = [time.process_time()]

        def mark(stage: str) -> None:
            stage_peaks[stage] = peak_rss_mb()
            stage_cpu[stage] = round(time.process_time() - cpu_at[0], 2)
            reset_peak_rss()
            cpu_at[0] = time.process_time()

        def progress(percent: int, stage: str) -> None:  # the pack's (percent, stage)
            bar.update(percent, 100, stage)
            if stage.startswith("rendered "):
                mark(stage.removeprefix("rendered "))
            elif stage == "zipped":
                mark("manifest+zip")

        with CaptureQueriesContext(connection) as queries, tempfile.TemporaryDirectory() as tmp:
            t1 = time.monotonic()
            bar = TerminalProgress(getattr(self.stderr, "_out", self.stderr), label="building pack ")
            data = gather(
                engagement=engagement,
                as_of=as_of,
                sample_size=sample,
                sample_seed=default_seed(engagement_id=engagement.pk, as_of=as_of),
                progress=progress,
            )
            stages["gather"] = round(time.monotonic() - t1, 2)
            rss_after_gather = peak_rss_mb()
            rss_gathered = peak_rss_mb("VmRSS")
            mark("gather")
            built = build_files(
                data=data,
                workdir=Path(tmp),
                meta={"pack_id": "KT-BENCH", "as_of": iso_utc(as_of), "built_at": iso_utc(as_of)},
                progress=progress,
            )
            bar.close()
            total = round(time.monotonic() - t1, 2)
            stages.update(built.timings)
            if keep:
                Path(keep).write_bytes(built.zip_path.read_bytes())
            import pypdf

            pages = len(pypdf.PdfReader(str(Path(tmp) / "pack.pdf")).pages)
        return {
            "database": connection.vendor,
            "credentials": seeded["credentials"],
            "identities": seeded["identities"],
            "findings_in_pack": len(data.findings),
            "setup_seconds (seed + evaluate, not timed)": setup_seconds,
            **{f"stage {name} s": seconds for name, seconds in stages.items()},
            "whole pack s": total,
            "queries (Django; plus the streamed credential pages)": len(queries),
            "peak rss MB before pack (seeding, not the pack)": rss_before,
            "rss MB at the pack's start (left by seeding)": rss_at_start,
            "peak rss MB during gather": rss_after_gather,
            "rss MB at the end of gather": rss_gathered,
            "peak rss MB during the pack (gather to zip)" if peak_reset else "peak rss MB (whole process)": (
                max(stage_peaks.values()) if peak_reset else peak_rss_mb()
            ),
            **({f"stage {name} peak rss MB": peak for name, peak in stage_peaks.items()} if peak_reset else {}),
            **{f"stage {name} cpu s": cpu for name, cpu in stage_cpu.items()},
            "load average (1 min) at the end": round(os.getloadavg()[0], 2),
            **{f"size {name} bytes": size for name, size in built.sizes.items()},
            "pdf pages": pages,
        }
