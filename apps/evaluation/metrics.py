"""What the evaluation reports at /metrics (read from the database at scrape time)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count
from prometheus_client.core import CounterMetricFamily, Metric

from apps.core.metrics import duration_histogram
from apps.evaluation.models import Evaluation


def collect() -> Iterable[Metric]:
    runs = CounterMetricFamily("keytrail_evaluations", "Evaluations finished, by outcome.", labels=["outcome"])
    for row in Evaluation.objects.exclude(state=Evaluation.State.RUNNING).values("state").annotate(n=Count("pk")).order_by():
        runs.add_metric([row["state"]], row["n"])
    yield runs
    yield duration_histogram(
        "keytrail_evaluation_duration_seconds",
        "Time an evaluation took, by trigger and outcome.",
        Evaluation.objects.exclude(state=Evaluation.State.RUNNING),
        group={"trigger": "trigger", "outcome": "state"},
    )
