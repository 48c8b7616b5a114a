"""``manage.py bench_growth``: bench_scale at several sizes in one go, every column printed, the
fitted exponent per stage; and the fan-out bench's CPU floor beside its ratio."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.devtools.management.commands.bench_fanout import cpu_floor_ratio
from apps.devtools.management.commands.bench_growth import COLUMNS, fit_exponent, growth, stage_row


def test_the_exponent_is_the_log_log_slope():
    assert fit_exponent([1000, 5000, 20000], [1.0, 5.0, 20.0]) == 1.0
    assert fit_exponent([1000, 2000, 4000], [1.0, 4.0, 16.0]) == 2.0
    assert fit_exponent([1000, 5000], [3.0, 3.0]) == 0.0
    assert fit_exponent([1000], [1.0]) is None  # one size has no slope
    assert fit_exponent([1000, 5000], [None, 2.0]) is None and fit_exponent([1000, 5000], [0.0, 2.0]) is None
    assert fit_exponent([1000, 1000], [1.0, 2.0]) is None


def test_every_column_comes_from_the_stage_and_keytrails_cpu_includes_its_worker():
    stage = {
        "stage": "first collection",
        "wall_seconds": 10.0,
        "peak_rss_mb": 200.0,
        "queries": 50,
        "api_calls_total": 300,
        "rows_written_total": 4000,
        "cpu_seconds": {"this process": 1.5, "worker 1": 6.0, "worker 1 pool 1": 2.0, "simulated aws": 3.0, "simulated key vault": 0.5},
    }
    row = stage_row(stage)
    assert list(row) == list(COLUMNS)
    assert row == {
        "wall s": 10.0,
        "CPU s keytrail": 9.5,
        "CPU s sims": 3.5,
        "peak RSS MB": 200.0,
        "queries": 50,
        "API calls": 300,
        "rows written": 4000,
    }
    reports = [
        {"users": n, "load_1m": 1.0, "inventory": {"credentials": 3 * n}, "stages": [{**stage, "wall_seconds": n / 100}]}
        for n in (1000, 4000)
    ]
    table = growth(reports)
    assert table["first collection"]["k wall"] == 1.0 and table["first collection"]["k CPU keytrail"] == 0.0
    assert [r["credentials"] for r in table["first collection"]["rows"]] == [3000, 12000]


def test_the_fan_out_cpu_floor_is_busy_cpu_over_the_cores_and_the_baselines_wall():
    run = {"cpu_seconds": {"machine busy": 60.0}, "wall_seconds": 40.0}
    assert cpu_floor_ratio(run, {"wall_seconds": 50.0}, cores=2) == 0.6
    assert cpu_floor_ratio({"cpu_seconds": {}}, {"wall_seconds": 50.0}, cores=2) is None


def test_bench_growth_runs_two_tiny_sizes_and_prints_every_column(django_db_blocker, tmp_path, capsys):
    out = tmp_path / "growth.json"
    with django_db_blocker.unblock():
        call_command("bench_growth", users="20,40", extra="--vaults 1 --accounts 1 --seed 3 --skip-bare", json=str(out))
    printed = capsys.readouterr().out
    assert all(column in printed for column in COLUMNS) and "k wall" in printed and "k CPU keytrail" in printed
    report = json.loads(out.read_text())
    assert [r["users"] for r in report["reports"]] == [20, 40]
    stages = report["growth"]
    assert {"first collection", "repeat collection", "evaluation", "evidence pack"} <= set(stages)
    for entry in stages.values():
        assert len(entry["rows"]) == 2 and all(r["wall s"] is not None and r["credentials"] > 0 for r in entry["rows"])
        assert entry["k wall"] is not None


def test_a_failing_size_is_named_and_the_json_still_written(tmp_path, capsys):
    """bench_scale refuses an unknown option at once: every size fails, each is named, the JSON
    says which, and the command ends in an error rather than a table of nothing."""
    out = tmp_path / "growth.json"
    with pytest.raises(CommandError, match="failed at 20, 40 users"):
        call_command("bench_growth", users="20,40", extra="--no-such-option", json=str(out))
    report = json.loads(out.read_text())
    assert report["reports"] == [] and set(report["failed"]) == {"20", "40"}
    assert "--no-such-option" in capsys.readouterr().err
