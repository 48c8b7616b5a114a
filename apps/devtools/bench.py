"""What the ``bench_*`` management commands share: a throwaway database, timing with query
counts, the process's peak memory, and printing (and saving) their figures.

Each benchmark works in its own database named after the configured one
(``<name>_bench_<what>``), created and migrated from scratch and dropped at the end, so the
configured database is never touched and the test suite's ``test_<name>`` is left alone.
"""

from __future__ import annotations

import json
import resource
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from django.db import connection
from django.test.utils import CaptureQueriesContext

T = TypeVar("T")


@contextmanager
def throwaway_database(label: str) -> Iterator[str]:
    """Create and migrate ``<configured name>_<label>``, point the default connection at it,
    yield its name, and drop it (restoring the configured database) however the block ends."""
    from django.contrib.contenttypes.models import ContentType

    old_name = connection.settings_dict["NAME"]
    test_settings = connection.settings_dict.setdefault("TEST", {})
    old_test_name = test_settings.get("NAME")
    test_settings["NAME"] = f"{old_name}_{label}"
    # Content types are cached per process by id, and ids differ between databases: a cache
    # filled in one would name the wrong rows in the other (guardian's permission lookups).
    ContentType.objects.clear_cache()
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False, serialize=False)
    try:
        yield connection.settings_dict["NAME"]
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        test_settings["NAME"] = old_test_name
        ContentType.objects.clear_cache()


def timed(fn: Callable[[], T]) -> tuple[T, float, int]:
    """``(fn(), wall seconds, queries issued)``."""
    with CaptureQueriesContext(connection) as queries:
        t0 = time.monotonic()
        result = fn()
        seconds = round(time.monotonic() - t0, 3)
    return result, seconds, len(queries)


def rss_mb() -> float:
    """The process's peak resident memory so far, in MB."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def write_figures(stdout, title: str, figures: dict[str, Any], json_path: str = "") -> None:
    """Print ``figures`` as aligned ``key  value`` lines under ``title``; also to ``json_path`` if given."""
    width = max(map(len, figures))
    stdout.write(title)
    for key, value in figures.items():
        stdout.write(f"  {key:<{width}}  {value}")
    if json_path:
        with open(json_path, "w") as fh:
            json.dump(figures, fh, indent=2, default=str)


def reset_peak_rss() -> bool:
    """Start a new peak-memory measurement for this process (Linux: ``clear_refs`` 5 resets
    VmHWM), so a stage's peak is not the set-up's; False where the kernel does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return False
    return True


def peak_rss_mb(field: str = "VmHWM") -> float:
    """The process's peak resident memory since the last :func:`reset_peak_rss` (VmHWM), in MB,
    or its current one (``field="VmRSS"``); :func:`rss_mb` where /proc is not there."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(f"{field}:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return rss_mb()
