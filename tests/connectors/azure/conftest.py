"""Fixtures for the Key Vault connector: simulated vaults over real HTTPS, the real SDK."""

from __future__ import annotations

import pytest
from azure.keyvault.secrets._shared import http_challenge_cache

from apps.connectors.base import Target
from apps.connectors.registry import get_connector
from apps.devtools.simulators.key_vault import KeyVaultSimulator, SimulatorCredential, certificate_paths


@pytest.fixture(autouse=True)
def azure_settings(settings):
    """Point the client at the simulators, with retries and timeouts small enough for tests."""
    settings.AZURE_CREDENTIAL_CLASS = "apps.devtools.simulators.key_vault.SimulatorCredential"
    settings.AZURE_VERIFY_CHALLENGE_RESOURCE = False  # the simulator lives on 127.0.0.1
    settings.AZURE_CONNECTION_VERIFY = certificate_paths()[0]
    settings.AZURE_CONNECTION_TIMEOUT = 2
    settings.AZURE_READ_TIMEOUT = 2
    settings.AZURE_RETRY_TOTAL = 2
    settings.AZURE_RETRY_BACKOFF_FACTOR = 0.01
    settings.AZURE_RETRY_BACKOFF_MAX = 0.05
    return settings


@pytest.fixture(autouse=True)
def _fresh_challenge_state():
    # The SDK caches each vault's challenge process-wide, keyed by host:port. Every test
    # starts its own vaults on fresh ports, but clearing (a private SDK module) makes the
    # challenge round trip certain instead of merely likely.
    http_challenge_cache.clear()
    SimulatorCredential.issued.clear()
    yield
    http_challenge_cache.clear()


@pytest.fixture(autouse=True)
def _started_vaults():
    """Every vault a test starts; afterwards none may have seen a value read or a write."""
    vaults: list[KeyVaultSimulator] = []
    yield vaults
    try:
        for vault in vaults:
            assert vault.violations == [], f"{vault!r} saw requests for secret values or writes"
    finally:
        for vault in vaults:
            vault.stop()


@pytest.fixture
def vault_factory(_started_vaults):
    def make(name: str = "vault", **kwargs) -> KeyVaultSimulator:
        vault = KeyVaultSimulator(name, **kwargs).start()
        _started_vaults.append(vault)
        return vault

    return make


@pytest.fixture
def vault(vault_factory) -> KeyVaultSimulator:
    return vault_factory("primary")


def target_for(vault: KeyVaultSimulator) -> Target:
    return Target(kind="azure_key_vault", source_key=vault.url, vault_url=vault.url)


@pytest.fixture
def collect():
    """``collect(vault, previous_state=None)`` through the registry, as the tasks will."""

    def run(vault: KeyVaultSimulator, previous_state: dict | None = None):
        return get_connector("azure_key_vault").collect(target_for(vault), previous_state=previous_state)

    return run
