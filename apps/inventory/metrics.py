"""What the inventory reports at /metrics (read from the database at scrape time)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.conf import settings
from django.db.models import Count, Max, Q
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from apps.core.metrics import duration_histogram
from apps.inventory.models import CollectionUnit, Source

_FINISHED = (CollectionUnit.Status.SUCCEEDED, CollectionUnit.Status.FAILED)


def collect() -> Iterable[Metric]:
    outcomes = CounterMetricFamily(
        "keytrail_collection_units", "Collection units finished, by source kind and outcome.", labels=["kind", "outcome"]
    )
    rows = CollectionUnit.objects.filter(status__in=_FINISHED).values("source__kind", "status").annotate(n=Count("pk")).order_by()
    for row in rows:
        outcomes.add_metric([row["source__kind"], row["status"]], row["n"])
    yield outcomes

    yield duration_histogram(
        "keytrail_collection_unit_duration_seconds",
        "Time from a collection unit's start to its end, by source kind and outcome.",
        CollectionUnit.objects.filter(status__in=_FINISHED),
        group={"kind": "source__kind", "outcome": "status"},
    )

    active = GaugeMetricFamily("keytrail_collection_units_active", "Collection units pending or running, by state.", labels=["state"])
    for state in (CollectionUnit.Status.PENDING, CollectionUnit.Status.RUNNING):
        active.add_metric([state], CollectionUnit.objects.filter(status=state).count())
    yield active

    days = settings.KEYTRAIL_METRICS_STALE_SOURCE_DAYS
    now = timezone.now()
    sources = Source.objects.filter(enabled=True).annotate(
        last_ok=Max("units__finished_at", filter=Q(units__status=CollectionUnit.Status.SUCCEEDED))
    )
    ages = GaugeMetricFamily(
        "keytrail_source_last_success_age_seconds",
        "Seconds since each enabled source last had a unit collected successfully (absent: never).",
        labels=["source", "kind"],
    )
    stale = 0
    for source in sources.only("name", "kind"):
        if source.last_ok is None or now - source.last_ok > dt.timedelta(days=days):
            stale += 1
        if source.last_ok is not None:
            ages.add_metric([source.name, source.kind], round((now - source.last_ok).total_seconds(), 1))
    yield ages
    yield GaugeMetricFamily(
        "keytrail_sources_not_collected_successfully",
        f"Enabled sources without a successful collection in the last {days} days (KEYTRAIL_METRICS_STALE_SOURCE_DAYS).",
        value=stale,
    )
