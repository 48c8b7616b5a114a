"""``manage.py bench_fanout`` at a tiny size on real workers and Redis, moto forked in two: its
own throwaway database copies, the table and the JSON (figures, not times, asserted); and its
pure parts."""

import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from apps.devtools.management.commands.bench_fanout import parse_modes, summarise, targets
from tests.support.worker import BROKER


def test_modes_are_workers_by_concurrency():
    assert parse_modes("1x1, 2x1,1x2") == [(1, 1), (2, 1), (1, 2)]
    for bad in ("", "2", "0x1", "2x0", "twoxone"):
        with pytest.raises(CommandError):
            parse_modes(bad)


def test_ratio_is_against_the_baseline_median_and_only_two_slot_modes_are_judged():
    runs = [
        {"mode": m, "wall_seconds": w, "largest_worker_peak_mb": 200.0, "machine_utilisation": 0.9}
        for m, w in (("1x1", 40.0), ("1x1", 44.0), ("2x1", 25.0), ("2x1", 27.0), ("4x1", 15.0))
    ]
    summary = summarise(runs, "1x1")
    assert [(r["mode"], r["wall_seconds_median"], r["ratio_to_baseline"]) for r in summary] == [
        ("1x1", 42.0, 1.0),
        ("2x1", 26.0, 0.62),
        ("4x1", 15.0, 0.36),
    ]
    judged = {t["target"]: t["met"] for t in targets(summary, "1x1")}
    assert judged == {
        "2 workers / 1 worker, wall time (2x1 / 1x1)": False,
        "worker peak memory in collection (PSS, main + pool processes)": True,
    }
    # With a round trip per call the limit is 0.55, not 0.6.
    assert [t["limit"] for t in targets(summary, "1x1", latency_ms=30)] == [0.55, 500]


@pytest.mark.worker
def test_bench_fanout_runs_on_real_workers_and_writes_json(django_db_blocker, tmp_path, capsys):
    out = tmp_path / "fanout.json"
    with django_db_blocker.unblock():
        name = connection.settings_dict["NAME"]
        call_command(
            "bench_fanout",
            users=8,
            secrets=4,
            vault_secrets=6,
            vaults=1,
            accounts=2,
            seed=3,
            modes="2x1",
            aws_processes=2,
            broker=BROKER,
            json=str(out),
        )
        assert connection.settings_dict["NAME"] == name  # the configured database is back in use

    assert "worker peak memory" in capsys.readouterr().out
    report = json.loads(out.read_text())
    (run,) = report["runs"]
    # Per account: IAM, and Secrets Manager and Parameter Store in its two regions; plus the vault (secrets, keys, certificates).
    assert run["mode"] == "2x1" and run["units"] == 2 * (1 + 2 + 2) + 3 and sum(run["units_by_worker"]) == run["units"]
    assert run["ratio_to_baseline"] == 1.0 and run["rows_written_total"] > 0 and run["api_calls_total"] > 0
    assert set(run["peak_pss_mb_by_worker"]) == {"worker 1", "worker 2"} and run["largest_worker_peak_mb"] > 0
    assert run["cpu_seconds"]["workers"] > 0 and run["cpu_seconds"]["machine busy"] > 0
    # moto forked in two: both served, and whichever answered found each account's data (8 users x 2 keys, 6 vault
    # secrets: a temporary key mapped to no account would have read moto's empty default account instead)
    assert {"simulated aws", "simulated aws 2", "simulated vaults"} <= set(run["cpu_seconds"]["by process"])
    # Every unit on the timeline, in the order it started; the tail names the last to finish.
    timeline = run["unit_timeline"]
    assert len(timeline) == run["units"] and [r["started"] for r in timeline] == sorted(r["started"] for r in timeline)
    assert all(r["finished"] >= r["started"] for r in timeline) and {r["connector"] for r in timeline} >= {"aws_iam", "azure_key_vault"}
    assert run["tail"]["last_unit_finished"] == max(r["finished"] for r in timeline)
    assert run["credentials"]["access_key"] == 16 and run["credentials"]["kv_secret"] == 6 and run["credentials"]["sm_secret"] == 4
