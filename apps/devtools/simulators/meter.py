"""Measuring one stage of a benchmark: wall time, peak RSS, queries, rows written.

* Peak RSS is the kernel's high-water mark (``VmHWM``) of this process, reset at the start
  of each stage (``/proc/self/clear_refs``), so each stage reports its own peak; where the
  reset is refused it falls back to the lifetime peak (``ru_maxrss``) and says so.
* Queries are counted with a Django execute wrapper (no SQL kept, no cap); a COPY stream
  counts as the one statement that opened it.
* The memory of a group of processes (a Celery worker: its main process and the pool
  processes forked from it, which share pages) is sampled as the sum of their proportional
  set sizes (``Pss`` in ``/proc/<pid>/smaps_rollup``: a shared page counts once in all)
  every 0.5 s (each read costs a page-table walk); the peak is the largest sample. Summing
  the processes' own peaks would count the pages they share once per process.
* CPU seconds of this process and of each watched process (``/proc/<pid>/stat``), and of the
  whole machine (``/proc/stat``: busy and idle seconds summed over every core), so what the
  database, the broker and anything else on the machine used shows as the difference.
* Rows written are PostgreSQL's own per-table counters (``pg_stat_user_tables``:
  inserted + updated + deleted), read before and after after forcing this backend's
  pending statistics out, so COPY and raw SQL are counted too.
"""

from __future__ import annotations

import os
import resource
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from django.db import connection


def reset_peak_rss(pid: int | str = "self") -> bool:
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def peak_rss_mb(pid: int | str = "self") -> float | None:
    """VmHWM of a process in MB (None if unreadable)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def pss_mb(pid: int | str = "self") -> float | None:
    """Proportional set size of a process in MB (None if unreadable)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class MemorySampler:
    """Samples the summed PSS of each group of processes on a thread until stopped; ``peaks``
    is each group's largest sample in MB."""

    def __init__(self, groups: dict[str, list[int]], interval: float = 0.5):
        self.groups, self.interval = groups, interval
        self.peaks: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True, name="memory-sampler")

    def _sample(self) -> None:
        while True:
            for name, pids in self.groups.items():
                total = sum(filter(None, (pss_mb(pid) for pid in pids)))
                self.peaks[name] = round(max(self.peaks.get(name, 0.0), total), 1)
            if self._stop.wait(self.interval):
                return

    def start(self) -> MemorySampler:
        self._thread.start()
        return self

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        return self.peaks


def cpu_seconds(pid: int | str = "self") -> float | None:
    """User + system CPU time of a process so far (None if unreadable)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> tuple[float, float] | None:
    """(busy, idle) CPU seconds of the whole machine so far, all cores summed (None if unreadable).
    Busy is user + nice + system + irq + softirq + steal; idle includes iowait."""
    try:
        with open("/proc/stat") as fh:
            ticks = [int(x) for x in fh.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    user, nice, system, idle, iowait, irq, softirq, steal = ticks + [0] * (8 - len(ticks))
    hz = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq + steal) / hz, (idle + iowait) / hz


def table_writes() -> dict[str, int]:
    """Rows inserted + updated + deleted so far, per table (PostgreSQL only; {} elsewhere)."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")  # flushed when this statement's transaction ends
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables")
        return {name: int(count) for name, count in cursor.fetchall()}


@dataclass
class StageFigures:
    name: str
    wall_seconds: float = 0.0
    peak_rss_mb: float | None = None
    peak_rss_basis: str = "stage"
    queries: int = 0
    api_calls: dict[str, int] = field(default_factory=dict)
    rows_written: dict[str, int] = field(default_factory=dict)
    load_average: tuple[float, float] = (0.0, 0.0)
    cpu_seconds: dict[str, float] = field(default_factory=dict)  # "this process" and each watched process
    machine_cpu_seconds: dict[str, float] = field(default_factory=dict)  # "busy" and "idle", all cores summed
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def api_calls_total(self) -> int:
        return sum(self.api_calls.values())

    @property
    def rows_written_total(self) -> int:
        return sum(self.rows_written.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "stage": self.name,
            "wall_seconds": self.wall_seconds,
            "peak_rss_mb": self.peak_rss_mb,
            "peak_rss_basis": self.peak_rss_basis,
            "queries": self.queries,
            "api_calls_total": self.api_calls_total,
            "api_calls": dict(sorted(self.api_calls.items())),
            "rows_written_total": self.rows_written_total,
            "rows_written": dict(sorted(self.rows_written.items())),
            "load_average_1m_start_end": list(self.load_average),
            "cpu_seconds": self.cpu_seconds,
            "machine_cpu_seconds": self.machine_cpu_seconds,
            **self.extra,
        }


class Stage:
    """``with Stage("evaluation") as figures: ...`` fills ``figures`` when the block ends."""

    def __init__(
        self,
        name: str,
        *,
        database: bool = True,
        profile_dir: str = "",
        watch: dict[str, int] | None = None,
        peaks: dict[str, int] | None = None,
        settle: float = 0.0,
        memory_groups: dict[str, list[int]] | None = None,
    ):
        self.figures = StageFigures(name)
        # Other backends (a worker's) publish their table counters when idle, within a second
        # or so: wait this long (outside the wall time) before reading them.
        self.settle = settle
        self.peaks = peaks or {}  # other processes (a worker's) whose peak RSS in this stage is reported too
        self.memory_groups = memory_groups or {}  # groups of processes (a worker's) whose summed PSS is sampled
        self._sampler: MemorySampler | None = None
        self.watch = {"this process": os.getpid(), **(watch or {})}  # CPU time of these (e.g. the simulators)
        self.database = database
        self.profile_dir = profile_dir  # write a pyinstrument profile of the stage there (adds overhead)
        self._count = 0
        self._profiler = None

    def _wrapper(self, execute, sql, params, many, context):
        self._count += 1
        return execute(sql, params, many, context)

    def __enter__(self) -> StageFigures:
        self._rows = table_writes() if self.database else {}
        self._load = os.getloadavg()[0]
        self._cpu = {name: cpu_seconds(pid) for name, pid in self.watch.items()}
        self._machine = machine_cpu_seconds()
        self.figures.peak_rss_basis = "stage" if reset_peak_rss() else "process lifetime"
        for pid in self.peaks.values():
            reset_peak_rss(pid)
        if self.memory_groups:
            self._sampler = MemorySampler(self.memory_groups).start()
        self._wrap = connection.execute_wrapper(self._wrapper)
        self._wrap.__enter__()
        if self.profile_dir:
            from pyinstrument import Profiler  # a development dependency

            self._profiler = Profiler(interval=0.005, async_mode="disabled")
            self._profiler.start()
        self._started = time.perf_counter()
        return self.figures

    def __exit__(self, *exc: Any) -> None:
        f = self.figures
        f.wall_seconds = round(time.perf_counter() - self._started, 2)
        if self._sampler is not None:
            f.extra["peak_pss_mb_of"] = self._sampler.stop()
        for name, pid in self.watch.items():
            now, before = cpu_seconds(pid), self._cpu.get(name)
            if now is not None and before is not None:
                f.cpu_seconds[name] = round(now - before, 2)
        machine = machine_cpu_seconds()
        if machine and self._machine:
            f.machine_cpu_seconds = {"busy": round(machine[0] - self._machine[0], 2), "idle": round(machine[1] - self._machine[1], 2)}
        if self._profiler is not None:
            self._profiler.stop()
            os.makedirs(self.profile_dir, exist_ok=True)
            path = os.path.join(self.profile_dir, f.name.replace(" ", "-") + ".txt")
            with open(path, "w") as fh:
                fh.write(self._profiler.output_text(unicode=True, show_all=False))
            f.extra["profile"] = path
        self._wrap.__exit__(*exc)
        f.queries = self._count
        f.peak_rss_mb = (
            peak_rss_mb() if f.peak_rss_basis == "stage" else round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        )
        f.load_average = (round(self._load, 2), round(os.getloadavg()[0], 2))
        if self.peaks:
            f.extra["peak_rss_mb_of"] = {name: peak_rss_mb(pid) for name, pid in self.peaks.items()}
        if self.database and exc[0] is None:
            time.sleep(self.settle)
            after = table_writes()
            f.rows_written = {t: n - self._rows.get(t, 0) for t, n in after.items() if n - self._rows.get(t, 0)}
