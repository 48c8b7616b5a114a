"""The demo (``manage.py demo``) as a real server: its own SQLite file, media directory and free
ports, in its own process group, stopped (that group only) when the test ends."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@dataclass
class DemoServer:
    url: str
    process: subprocess.Popen
    started: float
    first_page_seconds: float | None = None
    lines: list[str] = field(default_factory=list)

    def output(self) -> str:
        return "".join(self.lines)

    def wait_for_line(self, text: str, timeout: float) -> float:
        """Seconds since start when a line containing ``text`` was printed; fails after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines):
                return time.monotonic() - self.started
            if self.process.poll() is not None:
                raise AssertionError(f"the demo stopped ({self.process.returncode}):\n{self.output()[-4000:]}")
            time.sleep(0.5)
        raise AssertionError(f"the demo never printed {text!r} in {timeout:.0f} s:\n{self.output()[-4000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=20)


def start_demo(tmp_path: Path, *, first_page_timeout: float = 180) -> DemoServer:
    """Start ``manage.py demo`` and return once its login page answers (timing that)."""
    http, aws, *ports = free_ports(10)
    vaults, arm = ports[:3], ports[3:]
    var = tmp_path / "var"
    var.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AZURE_", "DATABASE_URL", "CELERY_", "PYTEST_"))},
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": f"sqlite:///{var / 'keytrail.sqlite3'}",
        "DJANGO_MEDIA_ROOT": str(var / "media"),
        "KEYTRAIL_DEMO_AWS_PORT": str(aws),
        "KEYTRAIL_DEMO_VAULT_PORTS": ",".join(map(str, vaults)),
        "KEYTRAIL_DEMO_ARM_PORTS": ",".join(map(str, arm)),
        "PYTHONUNBUFFERED": "1",
    }
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "demo", "--addrport", f"127.0.0.1:{http}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: stop() ends it and only it
    )
    server = DemoServer(f"http://127.0.0.1:{http}", process, started)

    def read() -> None:
        for line in process.stdout:
            server.lines.append(line)

    threading.Thread(target=read, daemon=True).start()
    deadline = started + first_page_timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{server.url}/accounts/login/", timeout=5) as response:
                if response.status == 200:
                    server.first_page_seconds = time.monotonic() - started
                    return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if process.poll() is not None:
            break
        time.sleep(0.5)
    server.stop()
    raise AssertionError(f"the demo's first page did not answer in {first_page_timeout:.0f} s:\n{server.output()[-4000:]}")
