"""Fixtures for the AWS connectors: moto's server over real HTTP, reset per test, plus a
small fault-injecting proxy in front of it. No mocks: every call crosses a socket."""

from __future__ import annotations

import socket
import urllib.request

import boto3
import pytest

from apps.connectors.base import Target
from apps.devtools.simulators import faults
from apps.devtools.simulators.aws import iam_backend, reset_moto, start_moto_server

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

class FaultProxy(faults.FaultProxy):
    """apps.devtools.simulators.faults.FaultProxy with these tests' vocabulary.

    ``fail(operation, kind, times=None, after=0)`` lets ``after`` requests for
    ``operation`` through, then makes the next ``times`` (all when ``None``) answer with
    ``kind``: ``throttle`` (400 Throttling), ``error500`` (500 InternalFailure),
    ``nosuchentity`` (404) or ``garbage`` (200 with an unparseable body).
    ``seen`` counts every request by operation, including the failed ones.
    """

    KINDS = {
        "throttle": ("throttle", {}),
        "error500": ("error", {}),
        "nosuchentity": ("error", {"status": 404, "code": "NoSuchEntity", "message": "The user with name x cannot be found."}),
        "garbage": ("malformed", {}),
    }

    def fail(self, operation: str, kind: str, times: int | None = None, after: int = 0) -> None:
        name, params = self.KINDS[kind]
        self.inject(name, match=operation, times=times, after=after, **params)


@pytest.fixture
def fault_proxy(moto_url, settings):
    """A FaultProxy in front of moto; keytrail's clients are pointed at it."""
    proxy = FaultProxy(moto_url).start()
    settings.AWS_ENDPOINT_URL = proxy.url
    yield proxy
    proxy.stop()
