"""A real Celery worker in its own process group: the tests' worker fixture and the scale
benchmark's ``--workers`` mode start it the same way."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[3]
# The worker's INFO line for every task message it takes from the broker (celery.worker.strategy;
# the settings keep celery.app.trace's per-task result lines out of the log).
_RECEIVED = re.compile(r"Task (?P<name>[\w.]+)\[(?P<id>[\w-]+)\] received")


class Worker:
    def __init__(self, env: dict[str, str], log: Path, concurrency: int = 2, queues: list[str] | None = None):
        self.env, self.log, self.concurrency = env, log, concurrency
        # Every queue unless told otherwise: one test worker does all the work a test enqueues.
        self.queues = queues
        self.proc: subprocess.Popen | None = None

    def start(self) -> Worker:
        out = open(self.log, "ab")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-l",
                "info",
                "--concurrency",
                str(self.concurrency),
                "-Q",
                ",".join(self.queues or settings.KEYTRAIL_QUEUES),
                "--without-heartbeat",
                "--without-mingle",
                "--without-gossip",
                "-n",
                f"test-{time.monotonic_ns()}@%h",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if b"ready." in self.log.read_bytes():
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited: {self.log.read_text()[-3000:]}")
            time.sleep(0.2)
        raise RuntimeError(f"worker not ready in 60 s: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and children), as a crashed machine would."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def tasks_received(self, name: str = "") -> list[str]:
        """Ids of the tasks (named ``name``, if given) this worker took from the broker so far, as
        its log says; with late acknowledgement and a prefetch of one, the tasks it ran."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return [m["id"] for m in _RECEIVED.finditer(text) if not name or m["name"] == name]

    def pids(self) -> list[int]:
        """The worker's main process and its pool processes (children), as /proc lists them."""
        if not self.proc or self.proc.poll() is not None:
            return []
        try:
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        except OSError:
            children = []
        return [self.proc.pid, *map(int, children)]


def reset_broker_connections(app) -> None:
    """Drop the app's connection and producer pools so the next publish uses the current broker_url."""
    import kombu.pools

    kombu.pools.reset()  # kombu keeps process-wide pools keyed by connection
    app._pool = None
    app.amqp._producer_pool = None
