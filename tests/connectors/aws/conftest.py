"""Fixtures for the AWS connectors: moto's server over real HTTP, reset per test, plus a
small fault-injecting proxy in front of it. No mocks: every call crosses a socket."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import urllib.parse
import urllib.request
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest

from apps.connectors.base import Target
from apps.simulators.aws import iam_backend, reset_moto, start_moto_server

ACCOUNT_A = "123456789012"  # moto's account for the "testing" base credentials
ACCOUNT_B = "222222222222"
ROLE_A = f"arn:aws:iam::{ACCOUNT_A}:role/keytrail-reader"
ROLE_B = f"arn:aws:iam::{ACCOUNT_B}:role/keytrail-reader"


@pytest.fixture(scope="session")
def moto_url():
    server, url = start_moto_server()
    yield url
    server.stop()


@pytest.fixture(autouse=True)
def aws_env(moto_url, settings, monkeypatch, tmp_path):
    """Base credentials from the environment, every client pointed at moto, moto wiped."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    settings.AWS_ENDPOINT_URL = moto_url
    settings.AWS_MAX_ATTEMPTS = 3
    settings.AWS_CONNECT_TIMEOUT = 1.0
    settings.AWS_READ_TIMEOUT = 10.0
    settings.AWS_CREDENTIAL_REPORT_POLL_INTERVAL = 0.05
    settings.AWS_CREDENTIAL_REPORT_MAX_WAIT = 5.0
    reset_moto(moto_url)
    yield


@pytest.fixture
def iam(moto_url):
    """A plain boto3 IAM client on account A, for seeding through the API."""
    return boto3.client("iam", endpoint_url=moto_url, region_name="us-east-1")


@pytest.fixture
def backend_a():
    return iam_backend(ACCOUNT_A)


@pytest.fixture
def target_a():
    return Target(kind="aws_iam", source_key=ACCOUNT_A, role_arn=ROLE_A, external_id="keytrail-ext-id")


def sm_target(region: str, account: str = ACCOUNT_A) -> Target:
    role = ROLE_A if account == ACCOUNT_A else ROLE_B
    return Target(kind="aws_secrets_manager", source_key=account, role_arn=role, region=region)


def free_closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def post_moto_api(url: str, path: str, body: str) -> None:
    request = urllib.request.Request(
        f"{url}{path}", data=body.encode(), method="POST", headers={"Content-Type": "text/plain"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - local moto
        response.read()


# --- fault-injecting proxy -----------------------------------------------------------

QUERY_ERROR = (
    '<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>{kind}</Type>'
    "<Code>{code}</Code><Message>{message}</Message></Error><RequestId>keytrail-test</RequestId></ErrorResponse>"
)


class FaultProxy:
    """Forwards to moto, except for operations told to fail.

    ``fail(operation, kind, times=None, after=0)`` lets ``after`` requests for
    ``operation`` through, then makes the next ``times`` (all when ``None``) answer with
    ``kind``: ``throttle`` (400 Throttling),
    ``error500`` (500 InternalFailure), ``nosuchentity`` (404) or ``garbage`` (200 with an unparseable body).
    ``seen`` counts every request by operation, including the failed ones.
    """

    def __init__(self, upstream: str):
        self.upstream = urllib.parse.urlsplit(upstream)
        self.seen: Counter = Counter()
        self.faults: dict[str, list] = {}
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):  # noqa: N802 - http.server naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                operation, json_protocol = proxy.operation_of(self.headers, body)
                with proxy.lock:
                    proxy.seen[operation] += 1
                    queue = proxy.faults.get(operation)
                    fault = None
                    if queue:
                        entry = queue[0]
                        if entry["after"] > 0:
                            entry["after"] -= 1
                        else:
                            fault = entry["kind"]
                            if entry["times"] is not None:
                                entry["times"] -= 1
                                if entry["times"] <= 0:
                                    queue.pop(0)
                if fault:
                    self.respond(*proxy.fault_response(fault, json_protocol))
                else:
                    self.respond(*proxy.forward(self.command, self.path, self.headers, body))

            do_GET = do_POST

            def respond(self, status, headers, payload):
                self.send_response(status)
                for name, value in headers:
                    if name.lower() not in {"content-length", "transfer-encoding", "connection", "server", "date"}:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @staticmethod
    def operation_of(headers, body: bytes) -> tuple[str, bool]:
        target = headers.get("X-Amz-Target")
        if target:
            return target.rsplit(".", 1)[-1], True
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        return (form.get("Action") or ["?"])[0], False

    def fail(self, operation: str, kind: str, times: int | None = None, after: int = 0) -> None:
        with self.lock:
            self.faults.setdefault(operation, []).append({"kind": kind, "times": times, "after": after})

    @staticmethod
    def fault_response(kind: str, json_protocol: bool):
        if kind == "garbage":
            return 200, [("Content-Type", "text/xml")], b"<<<this is not xml"
        status, code, message = {
            "throttle": (400, "Throttling", "Rate exceeded"),
            "error500": (500, "InternalFailure", "We encountered an internal error"),
            "nosuchentity": (404, "NoSuchEntity", "The user with name x cannot be found."),
        }[kind]
        if json_protocol:
            code = "ThrottlingException" if kind == "throttle" else "InternalServiceError"
            body = json.dumps({"__type": code, "message": message}).encode()
            return status, [("Content-Type", "application/x-amz-json-1.1")], body
        kind_name = "Sender" if status < 500 else "Receiver"
        body = QUERY_ERROR.format(kind=kind_name, code=code, message=message).encode()
        return status, [("Content-Type", "text/xml")], body

    def forward(self, method: str, path: str, headers, body: bytes):
        connection = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=30)
        try:
            forwarded = {k: v for k, v in headers.items() if k.lower() not in {"host", "connection"}}
            connection.request(method, path, body=body, headers=forwarded)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()

    def start(self) -> FaultProxy:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fault_proxy(moto_url, settings):
    """A FaultProxy in front of moto; keytrail's clients are pointed at it."""
    proxy = FaultProxy(moto_url).start()
    settings.AWS_ENDPOINT_URL = proxy.url
    yield proxy
    proxy.stop()
