"""Heartbeats that /readyz and /metrics read: beat's (written by the ``core.heartbeat`` task that
beat sends) and each worker's (written by a thread the worker starts, config/celery.py)."""

from __future__ import annotations

import time

from apps.core import broker

PREFIX = "keytrail:heartbeat:"
BEAT = "beat"


def record(name: str) -> None:
    """Record that ``name`` (``beat`` or ``worker:<hostname>``) is alive now."""
    r = broker.client()
    if r is not None:
        # Kept a day: an old heartbeat still says how long ago it stopped.
        r.set(PREFIX + name, f"{time.time():.3f}", ex=86400)


def ages() -> dict[str, float]:
    """Seconds since each recorded heartbeat, by name ({} without a broker)."""
    r = broker.client()
    if r is None:
        return {}
    keys = sorted(k.decode() for k in r.scan_iter(match=PREFIX + "*", count=200))
    if not keys:
        return {}
    now = time.time()
    return {k[len(PREFIX) :]: round(now - float(v), 1) for k, v in zip(keys, r.mget(keys), strict=True) if v is not None}
