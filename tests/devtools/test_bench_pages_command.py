"""``manage.py bench_pages`` end to end at a tiny size: its own throwaway database, every
page measured signed in as its user, the table and the JSON (figures, not times, asserted)."""

import json

from django.core.management import call_command
from django.db import connection


def test_bench_pages_measures_every_page_and_writes_json(django_db_blocker, tmp_path, capsys):
    out = tmp_path / "pages.json"
    with django_db_blocker.unblock():
        name = connection.settings_dict["NAME"]
        call_command("bench_pages", credentials=200, exceptions=12, reviewers=4, requests=2, warmups=1, json=str(out))
        assert connection.settings_dict["NAME"] == name  # the configured database is back in use

    printed = capsys.readouterr().out
    assert "| credentials, page 1 " in printed and "| exception register " in printed
    report = json.loads(out.read_text())
    assert report["credentials"] == 200 and report["campaign_items"] == 100 and sum(report["exceptions"].values()) == 12
    assert report["findings"] > 0 and report["remediations"] > 0
    pages = {p["page"]: p for p in report["pages"]}
    assert len(pages) == 14 and {p["status"] for p in pages.values()} == {200}
    assert {p["persona"] for p in pages.values()} == {"GRC lead", "auditor", "reviewer"}
    assert all(p["queries"] > 0 and p["median_ms"] > 0 and p["target_ms"] == 150 and not p["queries_varied"] for p in pages.values())
    assert pages["credentials, last page (4)"]["kb"] > 0
