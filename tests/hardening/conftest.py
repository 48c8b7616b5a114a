"""Fixtures for the hardening suites: a small simulated cloud behind fault-injecting proxies.
The suites write their outcomes to the ledger in tests/support/ledger.py (printed at the end of
the run; the figures in docs/reliability.md come from it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from azure.keyvault.secrets._shared import http_challenge_cache

from apps.devtools.simulators.aws import reset_moto
from apps.devtools.simulators.faults import FaultProxy
from apps.devtools.simulators.key_vault import KeyVaultSimulator, certificate_paths
from apps.devtools.simulators.organisation import seed_aws_account, seed_vault
from tests.support.cloud import ACCOUNT_A as ACCOUNT
from tests.support.cloud import moto_server_url  # noqa: F401 - session fixture

NOW = datetime(2026, 11, 1, tzinfo=UTC)


@dataclass
class FaultyCloud:
    aws: FaultProxy
    kv: FaultProxy
    vault: KeyVaultSimulator
    sources: dict = field(default_factory=dict)


@pytest.fixture
def faulty_cloud(moto_server_url, settings, monkeypatch, grc_lead):  # noqa: F811
    """One AWS account (IAM + Secrets Manager in eu-west-1) and one Key Vault, each behind a
    FaultProxy; keytrail's clients use the proxies, with short timeouts and few retries."""
    from apps.inventory.models import Source
    from apps.inventory.services.sources import source_create

    reset_moto(moto_server_url)
    http_challenge_cache.clear()
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    seed_aws_account(ACCOUNT, users=6, secrets_per_region=4, regions=["eu-west-1"], seed=5, now=NOW)
    vault = KeyVaultSimulator("kv-faults").start()
    seed_vault(vault, 8, seed=9, now=NOW)
    aws = FaultProxy(moto_server_url).start()
    kv = FaultProxy(vault.url, tls=True).start()
    settings.AWS_ENDPOINT_URL = aws.url
    settings.AWS_MAX_ATTEMPTS = 2
    settings.AWS_RETRY_MODE = "standard"
    settings.AWS_CONNECT_TIMEOUT = 1.0
    settings.AWS_READ_TIMEOUT = 1.0
    settings.AWS_CREDENTIAL_REPORT_POLL_INTERVAL = 0.05
    settings.AWS_CREDENTIAL_REPORT_MAX_WAIT = 3.0
    settings.AZURE_CREDENTIAL_CLASS = "apps.devtools.simulators.key_vault.SimulatorCredential"
    settings.AZURE_VERIFY_CHALLENGE_RESOURCE = False
    settings.AZURE_CONNECTION_VERIFY = certificate_paths()[0]
    settings.AZURE_CONNECTION_TIMEOUT = 1
    settings.AZURE_READ_TIMEOUT = 1
    settings.AZURE_RETRY_TOTAL = 1
    settings.AZURE_RETRY_BACKOFF_FACTOR = 0.01
    settings.AZURE_RETRY_BACKOFF_MAX = 0.05
    settings.AZURE_RETRY_AFTER_MAX = 0.2
    settings.KEYTRAIL_EVALUATE_AFTER_COLLECTION = False
    c = FaultyCloud(aws=aws, kv=kv, vault=vault)
    c.sources["aws"] = source_create(
        actor=grc_lead,
        name="faulty-aws",
        kind=Source.Kind.AWS_ACCOUNT,
        role_arn=f"arn:aws:iam::{ACCOUNT}:role/keytrail",
        regions=["eu-west-1"],
    )
    c.sources["kv"] = source_create(actor=grc_lead, name="faulty-kv", kind=Source.Kind.AZURE_KEY_VAULT, vault_url=kv.url)
    yield c
    aws.stop()
    kv.stop()
    assert vault.violations == [], "the vault saw a request for a secret value"
    vault.stop()
