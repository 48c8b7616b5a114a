"""``manage.py bench_evaluation`` at a tiny size with ``--phases``: its own throwaway database, a cold
and an incremental run, each judging phase timed, and every timed function put back afterwards."""

import json

from django.core.management import call_command
from django.db import connection

from apps.evaluation import judging
from apps.evaluation import services as evaluation_services


def test_bench_evaluation_times_the_phases_and_restores_them(django_db_blocker, tmp_path, capsys):
    originals = (judging.run_rules, judging.ChunkJudge._write_findings, evaluation_services.iter_fact_chunks)
    out = tmp_path / "figures.json"
    with django_db_blocker.unblock():
        name = connection.settings_dict["NAME"]
        call_command("bench_evaluation", credentials=60, changed=10, phases=True, json=str(out))
        assert connection.settings_dict["NAME"] == name  # the configured database is back in use

    figures = json.loads(out.read_text())
    assert figures["credentials"] == 60 and figures["changed_credentials"] == 6
    assert figures["incremental_carried"] + figures["incremental_judged"] > 0
    for phase in ("rules", "facts", "write_findings", "fingerprints", "copy_carried"):
        assert figures[f"phase_{phase}_wall_s"] >= 0 and f"phase_{phase}_cpu_s" in figures
    assert "phase_rules_wall_s" in capsys.readouterr().out
    assert (judging.run_rules, judging.ChunkJudge._write_findings, evaluation_services.iter_fact_chunks) == originals
