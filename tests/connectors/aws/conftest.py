"""Fixtures for the AWS connectors: moto's server over real HTTP, reset per test, plus a
small fault-injecting proxy in front of it. No mocks: every call crosses a socket."""

from __future__ import annotations

import boto3
import pytest

from apps.connectors.base import Target
from apps.devtools.simulators.aws import iam_backend, reset_moto, start_moto_server
from tests.support.aws import ACCOUNT_A, ROLE_A, FaultProxy


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


@pytest.fixture
def fault_proxy(moto_url, settings):
    """A FaultProxy in front of moto; keytrail's clients are pointed at it."""
    proxy = FaultProxy(moto_url).start()
    settings.AWS_ENDPOINT_URL = proxy.url
    yield proxy
    proxy.stop()
