"""Per-worker resources under pytest-xdist.

Each xdist worker is its own process with ``PYTEST_XDIST_WORKER`` set (``gw0``, ``gw1``...);
pytest-django already gives each worker its own test database (``test_<name>_gw0``). Anything
else a test fixes by number (a Redis database) must be derived from the worker index here, so
two workers never share it. Ports are never fixed: servers bind port 0 and report theirs.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"


def worker_index() -> int:
    """This process's xdist worker number (``gw3`` → 3); 0 without xdist or with ``-n 0``."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(name.removeprefix("gw")) if name.startswith("gw") else 0


def worker_redis_url(base: str | None = None) -> str:
    """``base`` (default ``KEYTRAIL_TEST_REDIS_URL``, else Redis DB 15) with its database number
    lowered by the worker index: DB 15 for gw0, 14 for gw1... so each worker flushes only its own.

    Raises ``RuntimeError`` when there are more workers than database numbers below ``base``."""
    url = urlsplit(base or os.environ.get("KEYTRAIL_TEST_REDIS_URL") or DEFAULT_REDIS_URL)
    db = int(url.path.strip("/") or 0) - worker_index()
    if db < 0:
        raise RuntimeError(f"no Redis database left for xdist worker {worker_index()} below {url.geturl()}")
    return urlunsplit(url._replace(path=f"/{db}"))
