"""The per-source collection slots: a Redis semaphore shared by every worker."""

import time

import pytest
import redis

from apps.core import semaphore
from tests.support.xdist import worker_redis_url

BROKER = worker_redis_url()


@pytest.fixture
def with_broker(settings):
    redis.Redis.from_url(BROKER).flushdb()
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = BROKER
    yield
    redis.Redis.from_url(BROKER).flushdb()


def test_at_most_limit_holders(with_broker):
    first = semaphore.acquire("src:1", limit=2, lease_seconds=60)
    second = semaphore.acquire("src:1", limit=2, lease_seconds=60)
    assert first and second and first != second
    assert semaphore.acquire("src:1", limit=2, lease_seconds=60) is None
    assert semaphore.acquire("src:2", limit=2, lease_seconds=60)  # another source is not held back
    assert semaphore.holders("src:1") == 2
    semaphore.release("src:1", first)
    assert semaphore.acquire("src:1", limit=2, lease_seconds=60)


def test_a_dead_holders_slot_frees_itself_when_its_lease_ends(with_broker):
    assert semaphore.acquire("src:3", limit=1, lease_seconds=1)
    assert semaphore.acquire("src:3", limit=1, lease_seconds=1) is None
    time.sleep(1.2)
    assert semaphore.acquire("src:3", limit=1, lease_seconds=1)


def test_without_a_broker_nothing_is_shared(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    assert semaphore.acquire("src:4", limit=1, lease_seconds=60) == "unlimited"
    assert semaphore.acquire("src:4", limit=1, lease_seconds=60) == "unlimited"


def test_redis_down_lets_work_go_ahead(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    assert semaphore.acquire("src:5", limit=1, lease_seconds=60) == "unlimited"
    semaphore.release("src:5", "some-token")  # no error either
