"""What evidence packs report at /metrics (read from the database at scrape time)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from apps.core.metrics import duration_histogram
from apps.evidence.models import Pack

_FINISHED = (Pack.State.SUCCEEDED, Pack.State.FAILED)


def collect() -> Iterable[Metric]:
    built = CounterMetricFamily("keytrail_packs", "Evidence packs finished, by outcome.", labels=["outcome"])
    for row in Pack.objects.filter(state__in=_FINISHED).values("state").annotate(n=Count("pk")).order_by():
        built.add_metric([row["state"]], row["n"])
    yield built
    waiting = GaugeMetricFamily("keytrail_packs_active", "Evidence packs queued or building, by state.", labels=["state"])
    for state in (Pack.State.QUEUED, Pack.State.BUILDING):
        waiting.add_metric([state], Pack.objects.filter(state=state).count())
    yield waiting
    yield duration_histogram(
        "keytrail_pack_build_duration_seconds",
        "Time from a pack build's start to its end, by outcome.",
        Pack.objects.filter(state__in=_FINISHED),
        group={"outcome": "state"},
    )
