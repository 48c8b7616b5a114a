"""Benchmark how each stage grows with the estate: ``bench_scale`` at several sizes in one go.

    DATABASE_URL=postgres://... python manage.py bench_growth --users 1000,5000,20000,50000 \\
        [--secrets-per-user 0.4] [--vault-secrets-per-user 0.4] [--json out.json]

Runs ``bench_scale`` once per size, each in a fresh process (so one size's peak memory is not
the next one's), with Secrets Manager and Key Vault secrets in proportion to the users, and
prints per stage and size: wall time, CPU seconds of keytrail (this process, or its worker) and
of the simulators, peak RSS, queries, API calls and rows written; then, per stage, the fitted
exponent k of time ∝ nᵏ (least squares over log wall and log CPU against log credentials), so
linear growth reads k ≈ 1 at a glance. ``--json`` writes every size's ``bench_scale`` report and
the fits.
"""

from __future__ import annotations

import json as jsonlib
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

COLUMNS = ("wall s", "CPU s keytrail", "CPU s sims", "peak RSS MB", "queries", "API calls", "rows written")


def fit_exponent(sizes: list[Any], values: list[Any]) -> float | None:
    """k of ``value ∝ size**k``: the least-squares slope of log(value) on log(size); None with
    fewer than two usable points (a zero or missing value has no logarithm)."""
    points = [(math.log(n), math.log(v)) for n, v in zip(sizes, values, strict=True) if n and v and n > 0 and v > 0]
    if len(points) < 2 or len({x for x, _ in points}) < 2:
        return None
    mx = sum(x for x, _ in points) / len(points)
    my = sum(y for _, y in points) / len(points)
    slope = sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x, _ in points)
    return round(slope, 2)


def stage_row(stage: dict[str, Any]) -> dict[str, float | int | None]:
    """One ``bench_scale`` stage's figures under :data:`COLUMNS`. keytrail's CPU is this process's,
    plus its worker's when the stage ran on a real worker; the simulators' is every simulated service's."""
    cpu = stage.get("cpu_seconds") or {}
    here = cpu.get("this process")
    worker = [v for k, v in cpu.items() if k.startswith("worker")]
    keytrail = None if here is None and not worker else round((here or 0) + sum(worker), 2)
    sims = [v for k, v in cpu.items() if k.startswith("simulated")]
    return {
        "wall s": stage.get("wall_seconds"),
        "CPU s keytrail": keytrail,
        "CPU s sims": round(sum(sims), 2) if sims else None,
        "peak RSS MB": stage.get("peak_rss_mb"),
        "queries": stage.get("queries"),
        "API calls": stage.get("api_calls_total"),
        "rows written": stage.get("rows_written_total"),
    }


def growth(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """Per stage: the rows by size (credentials collected) and the fitted k of wall and of keytrail's CPU."""
    stages: dict[str, dict[str, Any]] = {}
    for report in reports:
        n = report["inventory"]["credentials"]
        for stage in report["stages"]:
            entry = stages.setdefault(stage["stage"], {"rows": []})
            entry["rows"].append({"users": report["users"], "credentials": n, "load 1m": report["load_1m"], **stage_row(stage)})
    for entry in stages.values():
        sizes = [r["credentials"] for r in entry["rows"]]
        entry["k wall"] = fit_exponent(sizes, [r["wall s"] for r in entry["rows"]])
        entry["k CPU keytrail"] = fit_exponent(sizes, [r["CPU s keytrail"] for r in entry["rows"]])
    return stages


class Command(BaseCommand):
    help = "Run bench_scale at several sizes (fresh process each) and print per-stage growth with the fitted exponent k."

    def add_arguments(self, parser):
        parser.add_argument("--users", default="1000,5000,20000,50000", help="IAM user counts, comma-separated")
        parser.add_argument("--secrets-per-user", type=float, default=0.4)
        parser.add_argument("--vault-secrets-per-user", type=float, default=0.4)
        parser.add_argument("--json", default="", help="also write every size's report and the fits to this file")
        parser.add_argument("--extra", default="", help="more bench_scale options, given with '=': --extra='--skip-bare --workers 2'")

    def handle(self, *args, users: str, secrets_per_user: float, vault_secrets_per_user: float, json: str, extra: str, **options):
        try:
            sizes = sorted({int(u) for u in users.split(",") if u.strip()})
        except ValueError:
            raise CommandError(f"--users takes comma-separated integers, not {users!r}") from None
        if not sizes or sizes[0] < 1:
            raise CommandError("--users needs at least one size of 1 user or more")
        reports, failures = [], {}
        for n in sizes:
            self.stdout.write(f"bench_scale at {n:,} users …")
            try:
                reports.append(self._run(n, round(n * secrets_per_user), round(n * vault_secrets_per_user), extra.split()))
            except CommandError as exc:  # one size failing must not lose the others' figures
                failures[n] = str(exc)
                self.stderr.write(str(exc))
        table = growth(reports)
        self._print(table)
        if json:
            Path(json).write_text(jsonlib.dumps({"reports": reports, "growth": table, "failed": failures}, indent=2, default=str))
        if failures:
            raise CommandError(
                f"bench_scale failed at {', '.join(f'{n:,}' for n in failures)} users (above); the table holds the other sizes"
            )

    def _run(self, users: int, secrets: int, vault_secrets: int, extra: list[str]) -> dict[str, Any]:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "report.json"
            cmd = [
                sys.executable,
                str(Path(settings.BASE_DIR) / "manage.py"),
                "bench_scale",
                f"--users={users}",
                f"--secrets={secrets}",
                f"--vault-secrets={vault_secrets}",
                f"--json={out}",
                *extra,
            ]
            done = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy(), check=False)
            if done.returncode != 0 or not out.exists():
                tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
                raise CommandError(f"bench_scale --users {users} failed (exit {done.returncode}):\n{tail}")
            report = jsonlib.loads(out.read_text())
        report["users"] = users
        report["load_1m"] = (report.get("environment") or {}).get("load_average_at_end", [None])[0]
        return report

    def _print(self, table: dict[str, Any]) -> None:
        w = self.stdout.write
        header = f"{'stage':<20} {'users':>7} {'credentials':>11} " + " ".join(f"{c:>14}" for c in COLUMNS) + f" {'load 1m':>8}"
        w("")
        w(header)
        w("-" * len(header))
        for name, entry in table.items():
            for r in entry["rows"]:
                cells = " ".join(f"{'-' if r[c] is None else r[c]!s:>14}" for c in COLUMNS)
                w(f"{name:<20} {r['users']:>7,} {r['credentials']:>11,} {cells} {r['load 1m']!s:>8}")
        w("")
        w(f"{'stage':<20} {'k wall':>8} {'k CPU keytrail':>15}   (time ∝ nᵏ over the credentials collected)")
        for name, entry in table.items():
            kw, kc = entry["k wall"], entry["k CPU keytrail"]
            w(f"{name:<20} {'-' if kw is None else kw!s:>8} {'-' if kc is None else kc!s:>15}")
