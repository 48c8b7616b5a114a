"""``manage.py bench_organization`` at a tiny size: its own throwaway database, an organisation
on moto's server, the table and the JSON (figures, not times, asserted)."""

import json

from django.core.management import call_command
from django.db import connection


def test_bench_organization_prints_the_table_and_writes_json(django_db_blocker, tmp_path, capsys, settings):
    out = tmp_path / "figures.json"
    with django_db_blocker.unblock():
        name = connection.settings_dict["NAME"]
        call_command("bench_organization", accounts=3, users=2, secrets=1, json=str(out))
        assert connection.settings_dict["NAME"] == name  # the configured database is back in use

    printed = capsys.readouterr().out
    assert "first collection" in printed and "bare SDK, same calls" in printed
    report = json.loads(out.read_text())
    assert (
        report["first"]["status"] == "succeeded" and report["first"]["units"] == 1 + 3 * 3
    )  # discovery, then IAM, Secrets Manager and Parameter Store per account
    assert report["discovery_api_calls"]["ListAccounts"] == 1 and report["bare_sdk"]["items"]["secrets"] == 3
    assert report["repeat"]["status"] == "succeeded" and report["ratio_wall"] > 0
