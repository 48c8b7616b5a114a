"""A counting semaphore in Redis, shared by every worker on every machine.

Each holder is a member of a sorted set scored by its expiry time, so a slot held by a worker
that was killed frees itself when its lease runs out (the task's hard time limit)."""

from __future__ import annotations

import logging
import time
import uuid

import redis

from apps.core import broker

logger = logging.getLogger(__name__)

_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
  redis.call('EXPIRE', KEYS[1], ARGV[5])
  return 1
end
return 0
"""


def acquire(key: str, *, limit: int, lease_seconds: int) -> str | None:
    """Take a slot of ``key``: a token to release, or None when all ``limit`` slots are held.

    Without a broker (eager tasks, the demo) there is nothing to share: always granted. When
    Redis does not answer, also granted (logged): the limit protects the clouds from too many
    calls at once; refusing all work while Redis restarts would protect nothing."""
    r = broker.client()
    if r is None or limit <= 0:
        return "unlimited"
    now = time.time()
    token = uuid.uuid4().hex
    try:
        got = r.eval(_ACQUIRE, 1, "keytrail:sem:" + key, now, limit, now + lease_seconds, token, lease_seconds + 60)
    except redis.RedisError as exc:
        logger.warning("semaphore %s not checked (%s): going ahead without the limit", key, type(exc).__name__)
        return "unlimited"
    return token if got else None


def release(key: str, token: str) -> None:
    r = broker.client()
    if r is not None and token != "unlimited":
        try:
            r.zrem("keytrail:sem:" + key, token)
        except redis.RedisError as exc:  # the lease expires by itself
            logger.warning("semaphore %s not released (%s); its lease will expire", key, type(exc).__name__)


def holders(key: str) -> int:
    """How many unexpired slots of ``key`` are held."""
    r = broker.client()
    if r is None:
        return 0
    return int(r.zcount("keytrail:sem:" + key, time.time(), "+inf"))
