"""A small simulated organisation for pipeline tests: moto's server (real HTTP) with two
accounts, and two Key Vaults on the HTTPS simulator, seeded like the demo."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from azure.keyvault.secrets._shared import http_challenge_cache

from apps.devtools.simulators.aws import reset_moto, start_moto_server
from apps.devtools.simulators.key_vault import KeyVaultSimulator, certificate_paths
from apps.devtools.simulators.organisation import seed_aws_account, seed_vault

ACCOUNT_A = "123456789012"
ACCOUNT_B = "210987654321"
NOW = datetime(2026, 11, 1, tzinfo=UTC)


@dataclass
class Cloud:
    aws_url: str
    vaults: list[KeyVaultSimulator] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        """Environment for a separate worker process to reach the same simulators."""
        return {
            "AWS_ENDPOINT_URL": self.aws_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AZURE_CREDENTIAL_CLASS": "apps.devtools.simulators.key_vault.SimulatorCredential",
            "AZURE_VERIFY_CHALLENGE_RESOURCE": "false",
            "AZURE_CONNECTION_VERIFY": certificate_paths()[0],
        }


@pytest.fixture(scope="session")
def moto_server_url():
    server, url = start_moto_server()
    yield url
    server.stop()


@pytest.fixture
def cloud(moto_server_url, settings, monkeypatch):
    reset_moto(moto_server_url)
    http_challenge_cache.clear()
    c = Cloud(aws_url=moto_server_url)
    for name, value in c.env().items():
        monkeypatch.setenv(name, value)
    settings.AWS_ENDPOINT_URL = moto_server_url
    settings.AWS_CREDENTIAL_REPORT_POLL_INTERVAL = 0.05
    settings.AZURE_CREDENTIAL_CLASS = "apps.devtools.simulators.key_vault.SimulatorCredential"
    settings.AZURE_VERIFY_CHALLENGE_RESOURCE = False
    settings.AZURE_CONNECTION_VERIFY = certificate_paths()[0]
    settings.AZURE_RETRY_BACKOFF_FACTOR = 0.01
    seed_aws_account(ACCOUNT_A, users=40, secrets_per_region=8, regions=["eu-west-1", "us-east-1"], seed=1, now=NOW)
    seed_aws_account(
        ACCOUNT_B,
        users=10,
        secrets_per_region=4,
        regions=["eu-west-1"],
        seed=2,
        now=NOW,
        weak_password_policy=True,
        root_mfa=False,
        root_access_key=True,
    )
    for name, n in (("kv-a", 30), ("kv-b", 12)):
        vault = KeyVaultSimulator(name).start()
        seed_vault(vault, n, seed=len(name) + n, now=NOW)
        c.vaults.append(vault)
    yield c
    for vault in c.vaults:
        assert vault.violations == [], f"{vault!r} saw a request for a secret value"
        vault.stop()


def register_sources(actor, cloud: Cloud):
    from apps.inventory.models import Source
    from apps.inventory.services.sources import source_create

    return [
        source_create(
            actor=actor,
            name="account-a",
            kind=Source.Kind.AWS_ACCOUNT,
            role_arn=f"arn:aws:iam::{ACCOUNT_A}:role/keytrail",
            regions=["eu-west-1", "us-east-1"],
        ),
        source_create(
            actor=actor,
            name="account-b",
            kind=Source.Kind.AWS_ACCOUNT,
            role_arn=f"arn:aws:iam::{ACCOUNT_B}:role/keytrail",
            external_id="ext-123",
            regions=["eu-west-1"],
        ),
        *[source_create(actor=actor, name=v.name, kind=Source.Kind.AZURE_KEY_VAULT, vault_url=v.url) for v in cloud.vaults],
    ]
