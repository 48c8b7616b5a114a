"""Garbage collection while an evaluation judges: fewer cyclic collections, and judged chunks
freed by reference counting (docs/adr/0019-evaluation-python-cpu.md)."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# The cyclic garbage collector's first threshold while an evaluation judges (Python's default: 700).
# Judging allocates millions of short-lived objects (verdicts, their data, reasons) that reference
# counting frees; at 700 allocations a collection ran so often, each one walking the chunk's facts,
# that it took a fifth of the rules' CPU. Cyclic garbage (a chunk's facts: credentials and their
# identity point at each other) is still collected, a little later.
GC_THRESHOLD = 20_000
_gc_lock = threading.Lock()
_gc_users = 0
_gc_saved: tuple[int, int, int] = (700, 10, 10)


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the block with the garbage collector's first threshold at least ``GC_THRESHOLD``; the
    previous thresholds are put back when the last such block (of any thread) ends."""
    global _gc_users, _gc_saved
    with _gc_lock:
        if _gc_users == 0:
            _gc_saved = gc.get_threshold()
            gc.set_threshold(max(_gc_saved[0], GC_THRESHOLD), *_gc_saved[1:])
        _gc_users += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_users -= 1
            if _gc_users == 0:
                gc.set_threshold(*_gc_saved)


def release(chunk) -> None:
    """Break a judged chunk's credential/identity cycles (``identity.credentials`` and each
    credential's ``identity`` point at each other), so reference counting frees its facts as soon
    as the caller drops it instead of the cyclic collector, which :func:`fewer_collections` makes
    run less often. The chunk is not read after this."""
    for identity in chunk.identities:
        identity.credentials = []
