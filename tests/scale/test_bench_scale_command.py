"""``manage.py bench_scale`` end to end at a tiny size: its own throwaway database, the
simulated organisation, every stage, the table and the JSON (figures, not times, asserted)."""

import json

from django.core.management import call_command
from django.db import connection


def test_bench_scale_prints_the_table_and_writes_json(django_db_blocker, tmp_path, capsys):
    out = tmp_path / "figures.json"
    with django_db_blocker.unblock():
        name = connection.settings_dict["NAME"]
        call_command("bench_scale", users=40, secrets=8, vault_secrets=12, vaults=2, accounts=2, seed=3, json=str(out))
        assert connection.settings_dict["NAME"] == name  # the configured database is back in use

    printed = capsys.readouterr().out
    assert "first collection" in printed and "per-user IAM calls on repeat" in printed
    report = json.loads(out.read_text())
    stages = {s["stage"]: s for s in report["stages"]}
    assert list(stages) == ["bare SDK", "first collection", "repeat collection", "evaluation", "evidence pack"]
    assert stages["bare SDK"]["items"]["access_keys"] == 80 == stages["first collection"]["api_calls"]["ListAccessKeys"] * 2
    assert stages["first collection"]["rows_written"]["inventory_credential"] == report["inventory"]["credentials"]
    assert stages["repeat collection"]["api_calls"].get("ListAccessKeys", 0) == 0
    assert stages["evaluation"]["findings"] > 0 and stages["evaluation"]["queries"] > 0
    assert all(s["peak_rss_mb"] and s["cpu_seconds"]["this process"] >= 0 for s in report["stages"])
    targets = {t["target"]: t for t in report["targets"]}
    assert targets["per-user IAM calls on repeat"]["met"] is True
    assert stages["evidence pack"]["pack_state"] == "succeeded" and stages["evidence pack"]["pack_bytes"] > 0
    assert targets["evidence pack peak memory (the building process)"]["measured"] > 0
