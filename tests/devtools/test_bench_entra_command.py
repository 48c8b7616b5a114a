"""The Entra benchmark command runs end to end on a tiny tenant (its figures: docs/benchmarks.md)."""

from io import StringIO

from django.core.management import call_command


def test_bench_entra_reports_both_readers_and_their_ratio():
    out = StringIO()
    call_command("bench_entra", apps=3, repeat=1, stdout=out)
    text = out.getvalue()
    assert "3 app registrations, 6 credentials" in text and "credentials read 6" in text and "ratio" in text
