"""The Redis behind Celery's broker, for the few things keytrail keeps beside its queues:
heartbeats (/readyz), queue depths (/metrics) and per-source collection slots.

``client()`` is None when tasks run eagerly (the demo: no broker) or the broker is not Redis."""

from __future__ import annotations

import functools

import redis
from django.conf import settings


def enabled() -> bool:
    return not settings.CELERY_TASK_ALWAYS_EAGER and settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://"))


@functools.cache
def _client_for(url: str) -> redis.Redis:
    # Short timeouts: a health check or a scrape must answer even when Redis does not.
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2, health_check_interval=30)


def client() -> redis.Redis | None:
    return _client_for(settings.CELERY_BROKER_URL) if enabled() else None
