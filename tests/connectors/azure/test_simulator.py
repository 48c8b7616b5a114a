"""The Key Vault simulator itself, spoken to over raw HTTPS (``requests``) and the SDK."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
import requests
from azure.keyvault.secrets import SecretClient

from apps.devtools.simulators.key_vault import (
    DEFAULT_TENANT_ID,
    KeyVaultSimulator,
    SimulatorCredential,
    Violation,
)

API = {"api-version": "7.5"}
AUTH = {"Authorization": "Bearer anything"}
T0 = datetime(2025, 1, 15, 8, 30, tzinfo=UTC)


def get(vault, path, *, params=API, headers=AUTH):
    return requests.get(f"{vault.url}{path}", params=params, headers=headers, verify=vault.ca_path, timeout=5)


def test_request_without_token_gets_the_challenge(vault):
    response = get(vault, "/secrets", headers={})

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == (
        f'Bearer authorization="https://login.microsoftonline.com/{DEFAULT_TENANT_ID}", resource="https://vault.azure.net"'
    )
    assert response.json()["error"]["code"] == "Unauthorized"


def test_vault_refusing_tokens_answers_403_in_key_vault_error_shape(vault):
    vault.refuse_tokens = True

    response = get(vault, "/secrets")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "Forbidden"
    assert response.json()["error"]["innererror"] == {"code": "AccessDenied"}


def test_list_pages_with_absolute_next_link(vault):
    vault.seed(30, created=T0)

    first = get(vault, "/secrets").json()
    second = requests.get(first["nextLink"], headers=AUTH, verify=vault.ca_path, timeout=5).json()

    assert len(first["value"]) == 25  # default page size
    assert first["nextLink"].startswith(f"{vault.url}/secrets?")
    assert len(second["value"]) == 5
    assert "nextLink" in second and second["nextLink"] is None
    assert [i["id"].rsplit("/", 1)[1] for i in first["value"] + second["value"]] == [f"secret-{i:05d}" for i in range(30)]


def test_maxresults_is_honoured_and_bounded(vault):
    vault.seed(12)

    sizes = []
    link = f"{vault.url}/secrets?api-version=7.5&maxresults=5"
    while link:
        page = requests.get(link, headers=AUTH, verify=vault.ca_path, timeout=5).json()
        sizes.append(len(page["value"]))
        link = page["nextLink"]

    assert sizes == [5, 5, 2]
    assert get(vault, "/secrets", params={**API, "maxresults": "26"}).status_code == 400
    assert get(vault, "/secrets", params={**API, "maxresults": "0"}).status_code == 400
    assert get(vault, "/secrets", params={}).status_code == 400  # api-version is required


def test_items_carry_unix_seconds_and_omit_unset_keys(vault):
    vault.add_secret(
        "full",
        created=T0,
        updated=1736930000,
        expires=1800000000,
        not_before=1700000000,
        content_type="text/plain",
        tags={"owner": "ops"},
        managed=False,
    )
    vault.add_secret("bare", created=T0, recovery_level=None)

    items = {i["id"].rsplit("/", 1)[1]: i for i in get(vault, "/secrets").json()["value"]}

    assert items["full"] == {
        "id": f"{vault.url}/secrets/full",
        "attributes": {
            "enabled": True,
            "created": int(T0.timestamp()),
            "updated": 1736930000,
            "exp": 1800000000,
            "nbf": 1700000000,
            "recoveryLevel": "Recoverable+Purgeable",
        },
        "contentType": "text/plain",
        "tags": {"owner": "ops"},
        "managed": False,
    }
    assert items["bare"] == {
        "id": f"{vault.url}/secrets/bare",
        "attributes": {"enabled": True, "created": int(T0.timestamp()), "updated": int(T0.timestamp())},
    }


def test_versions_are_listed_and_paged(vault):
    vault.add_secret("rotated", created=T0, versions=30)

    first = get(vault, "/secrets/rotated/versions").json()
    second = requests.get(first["nextLink"], headers=AUTH, verify=vault.ca_path, timeout=5).json()

    ids = [i["id"] for i in first["value"] + second["value"]]
    assert len(ids) == 30 and len(set(ids)) == 30
    assert all(i.startswith(f"{vault.url}/secrets/rotated/") for i in ids)
    assert second["nextLink"] is None
    assert max(i["attributes"]["created"] for i in second["value"]) == int(T0.timestamp())
    assert get(vault, "/secrets/missing/versions").status_code == 404


def test_value_reads_and_writes_are_refused_and_recorded():
    # Its own vault, outside the autouse check: this test makes violations on purpose.
    with KeyVaultSimulator("honeypot") as vault:
        vault.add_secret("db-password", versions=2)
        version = get(vault, "/secrets/db-password/versions").json()["value"][0]["id"].rsplit("/", 1)[1]

        assert get(vault, "/secrets/db-password").status_code == 403
        assert get(vault, f"/secrets/db-password/{version}").status_code == 403
        assert get(vault, "/secrets/db-password", headers={}).status_code == 401
        put = requests.put(f"{vault.url}/secrets/db-password", params=API, headers=AUTH, json={"value": "x"}, verify=vault.ca_path)
        assert put.status_code == 405

        assert vault.violations == [
            Violation("value_read", "GET", "/secrets/db-password"),
            Violation("value_read", "GET", f"/secrets/db-password/{version}"),
            Violation("value_read", "GET", "/secrets/db-password"),
            Violation("write", "PUT", "/secrets/db-password"),
        ]
        vault.reset()
        assert vault.violations == [] and vault.requests == []
        assert get(vault, "/secrets").json() == {"value": [], "nextLink": None}


def test_faults_are_per_vault_and_counted(vault_factory):
    noisy, quiet = vault_factory("noisy"), vault_factory("quiet")
    noisy.throttle(times=1, retry_after=7)
    noisy.fail(times=1, status=502)

    throttled = get(noisy, "/secrets")
    assert (throttled.status_code, throttled.headers["Retry-After"]) == (429, "7")
    assert get(noisy, "/secrets").status_code == 502
    assert get(noisy, "/secrets").status_code == 200
    assert get(quiet, "/secrets").status_code == 200
    assert [r.status for r in noisy.requests] == [429, 502, 200]


def test_vaults_share_one_certificate_and_have_their_own_ports(vault_factory):
    a, b = vault_factory("a"), vault_factory("b")

    assert a.ca_path == b.ca_path
    assert a.port != b.port
    with open(a.ca_path) as fh:
        assert fh.read().startswith("-----BEGIN CERTIFICATE-----")


def test_bulk_seeding_and_serving_2000_secrets_is_quick(vault):
    started = time.perf_counter()
    vault.seed(2000, content_type="text/plain", tags={"owner": "ops"})
    seeded = time.perf_counter() - started

    started = time.perf_counter()
    with SecretClient(vault.url, SimulatorCredential(), verify_challenge_resource=False, connection_verify=vault.ca_path) as client:
        listed = sum(1 for _ in client.list_properties_of_secrets())
    served = time.perf_counter() - started

    assert listed == 2000
    assert len([r for r in vault.requests if r.status == 200]) == 80  # pages of 25
    assert seeded < 0.5, f"seeding took {seeded:.2f} s"
    assert served < 5, f"listing took {served:.2f} s"


def test_simulator_credential_is_a_token_credential():
    with SimulatorCredential() as credential:
        token = credential.get_token("https://vault.azure.net/.default", tenant_id="t")
    assert token.token and token.expires_on > time.time()


@pytest.mark.parametrize("name", ["", "has space", "under_score", "x" * 128, "../etc"])
def test_secret_names_follow_key_vault_rules(vault, name):
    with pytest.raises(ValueError):
        vault.add_secret(name)
