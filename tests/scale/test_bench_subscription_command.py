"""``manage.py bench_subscription`` at a tiny size: its own throwaway database, a subscription on
the Resource Manager simulator with Key Vault simulators, the table and the JSON (figures, not
times, asserted)."""

import json

from django.core.management import call_command
from django.db import connection


def test_bench_subscription_prints_the_table_and_writes_json(django_db_blocker, tmp_path, capsys, settings):
    out = tmp_path / "figures.json"
    with django_db_blocker.unblock():
        name = connection.settings_dict["NAME"]
        call_command("bench_subscription", vaults=3, secrets=4, json=str(out))
        assert connection.settings_dict["NAME"] == name  # the configured database is back in use

    printed = capsys.readouterr().out
    assert "first collection" in printed and "bare SDK, same calls" in printed
    report = json.loads(out.read_text())
    # The discovery, then three units per vault (secrets, keys, certificates).
    assert report["first"]["status"] == "succeeded" and report["first"]["units"] == 1 + 3 * 3
    assert report["discovery_api_calls"]["list_vaults_by_subscription"] == 1
    assert report["discovery_api_calls"]["list_vault_diagnostic_settings"] == 3
    assert report["bare_sdk"]["items"]["vaults"] == 3 and report["bare_sdk"]["items"]["vault_secrets"] == 12
    assert report["repeat"]["status"] == "succeeded" and report["ratio_wall"] > 0
