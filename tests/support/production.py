"""Processes started the production way (gunicorn, Celery workers, beat, manage.py) for the
production smoke test: each in its own process group, logging to its own file, stopped by
SIGTERM to that group only."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def manage(env: dict[str, str], *args: str, timeout: float = 180) -> str:
    """Run ``python manage.py ARGS`` with ``env``; its output, or AssertionError with it."""
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )
    assert done.returncode == 0, f"manage.py {' '.join(args)} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@dataclass
class Service:
    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen | None = field(default=None, repr=False)

    def start(self) -> Service:
        out = open(self.log, "ab")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            self.argv, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
        return self

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_for_log(self, needle: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.text():
                return
            self.check_alive()
            time.sleep(0.2)
        raise AssertionError(f"{self.name}: {needle!r} not logged in {timeout} s:\n{self.text()[-3000:]}")

    def check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"{self.name} exited {self.proc.returncode}:\n{self.text()[-3000:]}")

    def stop(self, timeout: float = 30) -> int | None:
        """SIGTERM the process group (a warm shutdown); its exit status, or None if it had to be killed."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                return self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
                return None
        return self.proc.returncode


def gunicorn(env: dict[str, str], log: Path) -> Service:
    return Service("gunicorn", [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi"], env, log)


def celery_worker(env: dict[str, str], log: Path, queues: str, name: str, concurrency: int = 1) -> Service:
    argv = [sys.executable, "-m", "celery", "-A", "config", "worker", "-l", "info", "-Q", queues, "-n", f"{name}@%h"]
    return Service(f"worker {name}", [*argv, "--concurrency", str(concurrency)], env, log)


def celery_beat(env: dict[str, str], log: Path, schedule_dir: Path) -> Service:
    argv = [sys.executable, "-m", "celery", "-A", "config", "beat", "-l", "info", "--pidfile", str(schedule_dir / "beat.pid")]
    return Service("beat", argv, env, log)


def wait_http(url: str, timeout: float = 60, service: Service | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return
        except requests.RequestException:  # not listening yet, or still loading Django
            pass
        if service is not None:
            service.check_alive()
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer 200 in {timeout} s")


class Browser:
    """An HTTP client that behaves like a browser behind the TLS-terminating balancer:
    ``X-Forwarded-Proto: https`` on every request, cookies kept (they are Secure, so requests'
    own jar would not send them over the test's plain HTTP), CSRF token and Referer sent."""

    def __init__(self, base: str):
        self.base = base
        self.cookies: dict[str, str] = {}
        self.http = requests.Session()

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"X-Forwarded-Proto": "https", "Referer": self.base.replace("http://", "https://") + "/"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if "csrftoken" in self.cookies:
            headers["X-CSRFToken"] = self.cookies["csrftoken"]
        return {**headers, **(extra or {})}

    def request(self, method: str, path: str, **kw) -> requests.Response:
        response = self.http.request(
            method, self.base + path, headers=self._headers(kw.pop("headers", None)), allow_redirects=False, timeout=60, **kw
        )
        for name, value in response.cookies.items():
            self.cookies[name] = value
        self.http.cookies.clear()
        return response

    def get(self, path: str, **kw) -> requests.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw) -> requests.Response:
        return self.request("POST", path, **kw)
