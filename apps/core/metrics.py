"""Prometheus metrics at /metrics (prometheus-client).

Request latency is measured in each web process; under gunicorn with several workers the
processes share ``PROMETHEUS_MULTIPROC_DIR`` (config/gunicorn.conf.py) and the scrape adds them
up. Everything else (collection units, sources, packs, evaluations) is read from the database
and from Redis at scrape time by the collectors named in KEYTRAIL_METRICS_COLLECTORS, so any
web process gives the same figures."""

from __future__ import annotations

import hmac
import ipaddress
import os
import time
from collections.abc import Callable, Iterable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric

from apps.core import broker, heartbeat

REQUEST_LATENCY = Histogram(
    "keytrail_http_request_duration_seconds",
    "Time to answer an HTTP request, by URL name (the route, never the raw path) and status class.",
    ["method", "view", "status"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


class RequestMetricsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = (match.view_name or "unnamed") if match else "unmatched"
        if request.path.startswith("/" + settings.STATIC_URL.lstrip("/")):
            view = "static"
        method = request.method if request.method in _METHODS else "other"
        REQUEST_LATENCY.labels(method, view, f"{response.status_code // 100}xx").observe(time.perf_counter() - started)
        return response


def metrics_allowed(request: HttpRequest) -> bool:
    token = settings.KEYTRAIL_METRICS_TOKEN
    given = request.headers.get("Authorization", "")
    if token and given.startswith("Bearer ") and hmac.compare_digest(given[7:].encode(), token.encode()):
        return True
    allowed = settings.KEYTRAIL_METRICS_ALLOWED_IPS or ([] if token else ["127.0.0.1", "::1"])
    try:
        addr = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(addr in ipaddress.ip_network(net, strict=False) for net in allowed)


# kombu's Redis transport keeps a queue's messages in a list named after it, plus one list per
# extra priority step (priority_steps 0, 3, 6, 9; the separator is "\x06\x16").
_PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")


def queue_metrics() -> Iterable[Metric]:
    r = broker.client()
    if r is None:
        return
    depth = GaugeMetricFamily("keytrail_queue_depth", "Messages waiting in each Celery queue.", labels=["queue"])
    pipe = r.pipeline(transaction=False)
    for queue in settings.KEYTRAIL_QUEUES:
        for suffix in _PRIORITY_SUFFIXES:
            pipe.llen(queue + suffix)
    lengths = pipe.execute()
    step = len(_PRIORITY_SUFFIXES)
    for i, queue in enumerate(settings.KEYTRAIL_QUEUES):
        depth.add_metric([queue], sum(lengths[i * step : (i + 1) * step]))
    yield depth
    ages = GaugeMetricFamily(
        "keytrail_heartbeat_age_seconds", "Seconds since beat or a worker last recorded its heartbeat.", labels=["name"]
    )
    for name, age in heartbeat.ages().items():
        ages.add_metric([name], age)
    yield ages


class _Collected:
    """Adapts a ``() -> Iterable[Metric]`` to prometheus-client's collector interface."""

    def __init__(self, func: Callable[[], Iterable[Metric]]):
        self.func = func

    def collect(self) -> Iterable[Metric]:
        return list(self.func())


def metrics_view(request: HttpRequest) -> HttpResponse:
    if not metrics_allowed(request):
        return HttpResponse("forbidden\n", status=403, content_type="text/plain")
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        process_registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(process_registry)
    else:
        process_registry = REGISTRY
    domain = CollectorRegistry(auto_describe=False)
    domain.register(_Collected(queue_metrics))  # type: ignore[arg-type]
    for path in settings.KEYTRAIL_METRICS_COLLECTORS:
        domain.register(_Collected(import_string(path)))  # type: ignore[arg-type]
    body = generate_latest(process_registry) + generate_latest(domain)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)


DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600)


def duration_histogram(name: str, documentation: str, qs, *, group: dict[str, str], buckets=DURATION_BUCKETS) -> Metric:
    """A histogram of ``finished_at - started_at`` over the finished rows of ``qs``, one series per
    value of the fields in ``group`` (label name → field), counted by the database in one query."""
    import datetime as dt

    from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
    from prometheus_client.core import HistogramMetricFamily

    qs = qs.filter(started_at__isnull=False, finished_at__isnull=False).annotate(
        _duration=ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
    )
    counts = {f"le{i}": Count("pk", filter=Q(_duration__lte=dt.timedelta(seconds=b))) for i, b in enumerate(buckets)}
    rows = qs.values(*group.values()).annotate(_n=Count("pk"), _sum=Sum("_duration"), **counts).order_by(*group.values())
    family = HistogramMetricFamily(name, documentation, labels=list(group))
    for row in rows:
        total = row["_sum"]
        seconds = total.total_seconds() if isinstance(total, dt.timedelta) else float(total or 0) / 1e6
        family.add_metric(
            [str(row[f]) for f in group.values()],
            buckets=[*((str(b), row[f"le{i}"]) for i, b in enumerate(buckets)), ("+Inf", row["_n"])],
            sum_value=seconds,
        )
    return family
