"""/healthz, /readyz, /metrics, request ids and JSON logs (docs/operations.md)."""

import json
import logging

import pytest
import redis

from apps.core import heartbeat
from apps.core.logcontext import ContextFilter
from tests.support.xdist import worker_redis_url

BROKER = worker_redis_url()


@pytest.fixture
def with_broker(settings):
    """Readiness with a Redis broker (the test's own database, flushed)."""
    redis.Redis.from_url(BROKER).flushdb()
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = BROKER
    yield redis.Redis.from_url(BROKER)
    redis.Redis.from_url(BROKER).flushdb()


def test_healthz_answers_anonymous(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.content == b"ok"


def test_readyz_without_broker_checks_the_database_only(client, db):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready" and body["checks"]["database"] == "ok"
    assert body["checks"]["worker"].startswith("not used")


def test_readyz_waits_for_a_worker_and_beat(client, db, with_broker, settings):
    response = client.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["broker"] == "ok" and checks["worker"].startswith("no worker heartbeat") and checks["beat"].startswith("no beat")

    heartbeat.record("worker:collection@host")
    assert client.get("/readyz").json()["checks"]["worker"] == "ok"
    assert client.get("/readyz").status_code == 503  # beat still silent

    heartbeat.record(heartbeat.BEAT)
    assert client.get("/readyz").status_code == 200

    # A heartbeat older than the limit no longer counts.
    with_broker.set(heartbeat.PREFIX + heartbeat.BEAT, "1000.0")
    response = client.get("/readyz")
    assert response.status_code == 503 and response.json()["checks"]["beat"].startswith("no beat")


def test_readyz_names_no_host_when_the_broker_is_down(client, db, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = client.get("/readyz")
    assert response.status_code == 503
    text = response.content.decode()
    assert "ConnectionError" in text and "127.0.0.1" not in text and ":1/" not in text


def test_metrics_refused_to_strangers(client, db, settings):
    settings.KEYTRAIL_METRICS_TOKEN = ""
    settings.KEYTRAIL_METRICS_ALLOWED_IPS = []
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200  # the machine itself

    settings.KEYTRAIL_METRICS_TOKEN = "s3cret-token"
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403  # a token set: loopback no longer enough
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token").status_code == 200

    settings.KEYTRAIL_METRICS_TOKEN = ""
    settings.KEYTRAIL_METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="11.1.2.3").status_code == 403


def test_metrics_report_collection_packs_and_queues(client, db, with_broker, grc_lead):
    import datetime as dt

    from django.utils import timezone

    from apps.inventory.models import CollectionRun, CollectionUnit, Source

    now = timezone.now()
    ok = Source.objects.create(name="fresh", kind=Source.Kind.AWS_ACCOUNT, created_by=grc_lead, role_arn="arn:aws:iam::1:role/r")
    Source.objects.create(name="never", kind=Source.Kind.AWS_ACCOUNT, created_by=grc_lead, role_arn="arn:aws:iam::2:role/r")
    run = CollectionRun.objects.create(status=CollectionRun.Status.SUCCEEDED)
    for i, (seconds, status) in enumerate(((3, "succeeded"), (40, "succeeded"), (7, "failed"))):
        CollectionUnit.objects.create(
            run=run,
            source=ok,
            connector="aws_iam",
            scope=f"aws_iam:{i}",
            status=status,
            started_at=now - dt.timedelta(seconds=seconds),
            finished_at=now,
        )
    with_broker.rpush("collection", b"m1", b"m2")
    with_broker.rpush("packs\x06\x169", b"m3")
    heartbeat.record(heartbeat.BEAT)

    text = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    assert 'keytrail_collection_units_total{kind="aws_account",outcome="succeeded"} 2.0' in text
    assert 'keytrail_collection_units_total{kind="aws_account",outcome="failed"} 1.0' in text
    assert 'keytrail_collection_unit_duration_seconds_bucket{kind="aws_account",le="5",outcome="succeeded"} 1.0' in text
    assert 'keytrail_collection_unit_duration_seconds_bucket{kind="aws_account",le="60",outcome="succeeded"} 2.0' in text
    assert 'keytrail_collection_unit_duration_seconds_sum{kind="aws_account",outcome="succeeded"} 43.0' in text
    assert "keytrail_sources_not_collected_successfully 1.0" in text  # "never"
    assert 'keytrail_queue_depth{queue="collection"} 2.0' in text
    assert 'keytrail_queue_depth{queue="packs"} 1.0' in text
    assert 'keytrail_heartbeat_age_seconds{name="beat"}' in text
    assert "keytrail_packs_total" in text or "# TYPE keytrail_packs counter" in text
    assert "# TYPE keytrail_evaluation_duration_seconds histogram" in text
    assert "keytrail_http_request_duration_seconds_bucket" in text


def test_request_id_echoed_or_made(client, db):
    given = client.get("/healthz", HTTP_X_REQUEST_ID="lb-1234.abc")
    assert given["X-Request-ID"] == "lb-1234.abc"
    hostile = client.get("/healthz", HTTP_X_REQUEST_ID='"><script>\n')
    assert hostile["X-Request-ID"] != '"><script>\n' and len(hostile["X-Request-ID"]) == 32


def test_json_log_lines_carry_request_and_task_ids():
    import io
    from logging.config import dictConfig

    stream = io.StringIO()
    dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "filters": {"context": {"()": "apps.core.logcontext.ContextFilter"}},
            "formatters": {
                "json": {
                    "()": "pythonjsonlogger.json.JsonFormatter",
                    "format": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(task_id)s",
                }
            },
            "handlers": {"mem": {"class": "logging.StreamHandler", "stream": stream, "formatter": "json", "filters": ["context"]}},
            "loggers": {"keytrail.test.json": {"handlers": ["mem"], "level": "INFO", "propagate": False}},
        }
    )
    from apps.core import logcontext

    token = logcontext._request_id.set("rid-1")
    try:
        logging.getLogger("keytrail.test.json").info('hostile "quote"\nsecond line')
    finally:
        logcontext._request_id.reset(token)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    event = json.loads(lines[0])
    assert event["request_id"] == "rid-1" and event["task_id"] == "" and event["message"] == 'hostile "quote"\nsecond line'
    assert ContextFilter().filter(logging.makeLogRecord({})) is True
