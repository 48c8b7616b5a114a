"""Key Vault keys and certificates connectors against simulated vaults: real HTTPS, the real
azure-keyvault-keys and azure-keyvault-certificates SDKs. Every test's vaults must end with no
violation (no key, certificate or secret value requested): see conftest's ``_started_vaults``."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from azure.keyvault.certificates._shared import http_challenge_cache as certificate_challenges
from azure.keyvault.keys._shared import http_challenge_cache as key_challenges

from apps.connectors.azure.client import DisallowedOperation, build_credential, vault_client
from apps.connectors.azure.vault_items import duration_days
from apps.connectors.base import ConnectorError, Target
from apps.connectors.registry import get_connector
from apps.devtools.simulators.key_vault import certificate_policy, rotation_policy
from tests.support.hostile import SHORT_TEXT

T0 = datetime(2025, 1, 15, 8, 30, tzinfo=UTC)
KEYS, CERTIFICATES = "azure_key_vault_keys", "azure_key_vault_certificates"


@pytest.fixture(autouse=True)
def _fresh_item_challenges():
    key_challenges.clear()
    certificate_challenges.clear()
    yield
    key_challenges.clear()
    certificate_challenges.clear()


def collect_unit(kind, vault):
    return get_connector(kind).collect(Target(kind=kind, source_key=vault.url, vault_url=vault.url))


def by_name(result):
    return {c.name: c for c in result.credentials}


# ------------------------------------------------------------------------------ paging


def test_pages_through_every_key_and_reads_each_rotation_policy(vault):
    vault.keys.seed(60, prefix="key", created=T0, expires=T0 + timedelta(days=400))

    result = collect_unit(KEYS, vault)

    assert sorted(by_name(result)) == [f"key-{i:05d}" for i in range(60)]
    assert result.errors == [] and result.identities == []
    assert result.api_calls == {"list_keys": 3, "get_key_rotation_policy": 60}  # 25 + 25 + 10
    assert [r.status for r in vault.requests if r.path == "/keys"] == [401, 200, 200, 200]


def test_pages_through_every_certificate_and_reads_each_policy(vault):
    vault.certificates.seed(51, prefix="cert", created=T0, expires=T0 + timedelta(days=365))

    result = collect_unit(CERTIFICATES, vault)

    assert len(result.credentials) == 51 and result.errors == []
    assert result.api_calls == {"list_certificates": 3, "get_certificate_policy": 51}


def test_versions_listings_page_for_the_sdks(vault, settings):
    """The connectors do not need versions (the listing shows the current one), but the
    simulator pages them for the SDKs like every other listing."""
    vault.keys.add("many", versions=30)
    vault.certificates.add("many", versions=27)
    counter: Counter = Counter()
    with vault_client("keys", vault.url, api_calls=counter) as (client, _):
        assert len(list(client.list_properties_of_key_versions("many"))) == 30
    with vault_client("certificates", vault.url, api_calls=counter) as (client, _):
        assert len(list(client.list_properties_of_certificate_versions("many"))) == 27
    assert counter == {"list_key_versions": 2, "list_certificate_versions": 2}


# ------------------------------------------------------------------------------ mapping


def test_maps_key_attributes_and_rotation_policies(vault):
    vault.keys.add(
        "rotated",
        created=T0,
        updated=T0 + timedelta(days=2),
        expires=T0 + timedelta(days=365),
        tags={"owner": "payments"},
        managed=False,
        policy=rotation_policy(rotate_after_days=90, expiry_days=365),
    )
    vault.keys.add("by-expiry", created=T0, policy=rotation_policy(rotate_before_expiry_days=30, expiry_days=365))
    vault.keys.add("unrotated", created=T0, enabled=False)  # the service's default policy: Notify only
    vault.keys.add("expiry-only", created=T0, policy=rotation_policy(rotate_before_expiry_days=30))

    result = collect_unit(KEYS, vault)
    keys = by_name(result)

    rotated = keys["rotated"]
    assert rotated.credential_type == "kv_key" and rotated.external_id == f"{vault.url}/keys/rotated"
    assert rotated.enabled is True and rotated.created_at == T0 and rotated.last_rotated_at == T0
    assert rotated.last_changed_at == T0 + timedelta(days=2) and rotated.expires_at == T0 + timedelta(days=365)
    assert rotated.tags == {"owner": "payments"}
    assert rotated.rotation_enabled is True and rotated.rotation_interval_days == 90
    assert rotated.attributes["rotation_policy"] == "present"
    assert rotated.attributes["rotation_trigger"] == "P90D after creation"
    assert rotated.attributes["policy_expiry_time"] == "P365D"
    assert keys["by-expiry"].rotation_interval_days == 335
    assert keys["unrotated"].rotation_enabled is False and keys["unrotated"].enabled is False
    assert keys["unrotated"].attributes["rotation_policy"] == "absent"
    # Rotate before expiry without a policy expiry time: present, interval unknown, reported.
    assert keys["expiry-only"].rotation_enabled is True and keys["expiry-only"].rotation_interval_days is None
    assert [e["item"] for e in result.errors] == [f"{vault.url}/keys/expiry-only"]


def test_maps_certificate_attributes_and_policies(vault):
    vault.certificates.add(
        "www",
        created=T0,
        expires=T0 + timedelta(days=365),
        tags={"owner": "web"},
        policy=certificate_policy(issuer="DigiCert", auto_renew=True, lifetime_percentage=80, subject="CN=www.example.com"),
    )
    vault.certificates.add(
        "manual", created=T0, expires=T0 + timedelta(days=90), policy=certificate_policy(auto_renew=False, days_before_expiry=30)
    )

    result = collect_unit(CERTIFICATES, vault)
    certs = by_name(result)

    www = certs["www"]
    assert www.credential_type == "kv_certificate" and www.external_id == f"{vault.url}/certificates/www"
    assert www.expires_at == T0 + timedelta(days=365) and www.tags == {"owner": "web"}
    assert www.attributes["issuer"] == "DigiCert" and www.attributes["auto_renew"] is True and www.rotation_enabled is True
    assert www.attributes["lifetime_actions"] == "AutoRenew at 80% of lifetime"
    assert www.attributes["subject"] == "CN=www.example.com" and www.attributes["validity_months"] == 12
    assert len(www.attributes["thumbprint"]) == 40
    assert certs["manual"].attributes["auto_renew"] is False
    assert certs["manual"].attributes["lifetime_actions"] == "EmailContacts 30 days before expiry"
    assert result.errors == []


@pytest.mark.parametrize(
    "text, days",
    [("P90D", 90), ("P1Y", 365), ("P2Y6M", 910), ("p12w", 84), ("P", None), ("PT12H", None), ("-P1D", None), (90, None), ("", None)],
)
def test_duration_days(text, days):
    assert duration_days(text) == days


# ------------------------------------------------------------------------------ permission and faults


def test_keys_refused_leaves_the_secrets_and_certificates_collectable(vault, collect):
    """An identity allowed to list secrets only: the keys unit fails as auth_refused, by name."""
    vault.add_secret("db-password", created=T0)
    vault.keys.add("k", created=T0)
    vault.certificates.add("c", created=T0)
    vault.refuse_keys = True

    with pytest.raises(ConnectorError) as refused:
        collect_unit(KEYS, vault)
    assert refused.value.code == "auth_refused" and vault.url in str(refused.value) and "403" in str(refused.value)
    assert len(collect(vault).credentials) == 1  # the secrets unit
    assert len(collect_unit(CERTIFICATES, vault).credentials) == 1


def test_certificates_refused_is_auth_refused(vault):
    vault.certificates.add("c", created=T0)
    vault.refuse_certificates = True
    with pytest.raises(ConnectorError) as refused:
        collect_unit(CERTIFICATES, vault)
    assert refused.value.code == "auth_refused"


def test_a_policy_refused_fails_the_unit_never_passes_it(vault):
    vault.keys.add("k", created=T0)
    vault.fail(status=403, times=None, only="rotation_policy")
    with pytest.raises(ConnectorError) as refused:
        collect_unit(KEYS, vault)
    assert refused.value.code == "auth_refused"


def test_throttling_is_retried_and_then_reported(vault):
    vault.keys.seed(3, prefix="k", created=T0)
    vault.throttle(times=1, retry_after=0.01, only="keys")
    vault.throttle(times=1, retry_after=0.01, only="rotation_policy")
    result = collect_unit(KEYS, vault)
    assert len(result.credentials) == 3 and result.errors == []
    assert [r.status for r in vault.requests].count(429) == 2

    vault.throttle(times=None, retry_after=0.01, only="certificates")
    vault.certificates.add("c", created=T0)
    with pytest.raises(ConnectorError) as throttled:
        collect_unit(CERTIFICATES, vault)
    assert throttled.value.code == "throttled" and throttled.value.retryable


def test_server_errors_and_malformed_listings(vault):
    vault.keys.add("k", created=T0)
    vault.malformed_json(times=None, only="keys")
    with pytest.raises(ConnectorError) as malformed:
        collect_unit(KEYS, vault)
    assert malformed.value.code == "malformed_response"
    vault.clear_faults()
    vault.fail(times=None, status=503, only="certificate_policy")
    vault.certificates.add("c", created=T0)
    with pytest.raises(ConnectorError) as failing:
        collect_unit(CERTIFICATES, vault)
    assert failing.value.code == "server_error"


def test_unreachable_vault(vault):
    vault.stop()
    with pytest.raises(ConnectorError) as down:
        collect_unit(KEYS, vault)
    assert down.value.code == "unreachable"


# ------------------------------------------------------------------------------ bad items


def test_malformed_dates_and_ids_are_per_item_errors(vault):
    vault.keys.add("good", created=T0, expires=T0 + timedelta(days=30))
    vault.keys.add_raw(
        {"kid": f"{vault.url}/keys/odd-dates", "attributes": {"enabled": True, "exp": "tomorrow", "created": True}}, sort_key="m"
    )
    vault.keys.add_raw({"kid": 42, "attributes": {}}, sort_key="n")

    result = collect_unit(KEYS, vault)
    keys = by_name(result)

    assert set(keys) == {"good", "odd-dates"}
    odd = keys["odd-dates"]
    assert odd.expires_at is None and odd.created_at is None
    assert set(odd.attributes["malformed_fields"]) == {"exp", "created"}
    codes = {(e["code"], e["item"]) for e in result.errors}
    assert ("malformed_item", f"{vault.url}/keys/odd-dates") in codes
    assert any(code == "malformed_item" and "usable id" in e["message"] for e in result.errors for code in [e["code"]])
    # The raw item is not a stored key: its policy is a 404, recorded as vanished.
    assert ("item_vanished", f"{vault.url}/keys/odd-dates") in codes
    assert keys["good"].rotation_enabled is False


def test_malformed_policies_leave_the_facts_unknown(vault):
    vault.keys.add("junk-actions", created=T0, policy={"lifetimeActions": "rotate please", "attributes": {}})
    vault.keys.add("bad-expiry", created=T0, policy={"lifetimeActions": [], "attributes": {"expiryTime": "one year"}})
    vault.certificates.add("junk", created=T0, policy=["not", "a", "policy"])

    keys = collect_unit(KEYS, vault)
    certs = collect_unit(CERTIFICATES, vault)

    for record in keys.credentials:
        assert record.rotation_enabled is None, record
    assert {e["code"] for e in keys.errors} == {"malformed_policy"} and len(keys.errors) == 2
    junk = certs.credentials[0]
    assert junk.attributes["auto_renew"] is None and junk.rotation_enabled is None
    assert [e["code"] for e in certs.errors] == ["malformed_policy"]


def test_deleted_between_runs(vault):
    vault.keys.add("stays", created=T0)
    vault.keys.add("goes", created=T0)
    vault.certificates.add("goes", created=T0)
    assert set(by_name(collect_unit(KEYS, vault))) == {"stays", "goes"}
    vault.keys.delete("goes")
    vault.certificates.delete("goes")
    assert set(by_name(collect_unit(KEYS, vault))) == {"stays"}
    assert collect_unit(CERTIFICATES, vault).credentials == []


HOSTILE = {k: v for k, v in SHORT_TEXT.items() if k != "invalid_utf8"}  # not valid in a JSON body at all


@pytest.mark.hostile
def test_hostile_tags_issuer_and_subject_are_kept_verbatim(vault):
    vault.keys.add("hostile", created=T0, tags=HOSTILE)
    text = "\n".join(HOSTILE.values())
    vault.certificates.add(
        "hostile", created=T0, tags=HOSTILE, policy=certificate_policy(issuer=HOSTILE["formula_eq"], subject=HOSTILE["html_script"])
    )

    key = collect_unit(KEYS, vault).credentials[0]
    cert = collect_unit(CERTIFICATES, vault).credentials[0]

    assert key.tags == HOSTILE and cert.tags == HOSTILE and text
    assert cert.attributes["issuer"] == HOSTILE["formula_eq"] and cert.attributes["subject"] == HOSTILE["html_script"]


# ------------------------------------------------------------------------------ never a key or a certificate


def test_the_clients_refuse_to_read_a_key_a_certificate_or_its_secret(vault):
    vault.keys.add("k", created=T0)
    vault.certificates.add("c", created=T0)
    with vault_client("keys", vault.url, api_calls=Counter()) as (client, _):
        with pytest.raises(DisallowedOperation):
            client.get_key("k")
    with vault_client("certificates", vault.url, api_calls=Counter()) as (client, _):
        with pytest.raises(DisallowedOperation):
            client.get_certificate("c")
        with pytest.raises(DisallowedOperation):
            client.get_certificate_version("c", "v1")
    assert vault.requests == []  # refused before anything was sent


def test_the_simulator_records_key_and_certificate_reads_as_violations(vault, _started_vaults):
    from azure.keyvault.certificates import CertificateClient
    from azure.keyvault.keys import KeyClient
    from azure.keyvault.secrets import SecretClient
    from django.conf import settings

    vault.keys.add("k", created=T0)
    vault.certificates.add("c", created=T0)
    options = {"verify_challenge_resource": False, "connection_verify": settings.AZURE_CONNECTION_VERIFY, "retry_total": 0}
    for client, read in (
        (KeyClient(vault.url, build_credential(), **options), lambda c: c.get_key("k")),
        (CertificateClient(vault.url, build_credential(), **options), lambda c: c.get_certificate("c")),
        (SecretClient(vault.url, build_credential(), **options), lambda c: c.get_secret("c")),  # the certificate's private part
    ):
        with client, pytest.raises(Exception):  # noqa: B017 - 403 from the simulator, whatever the SDK calls it
            read(client)
    assert [(v.kind, v.path.rstrip("/")) for v in vault.violations] == [
        ("key_read", "/keys/k"),
        ("key_read", "/keys/k"),
        ("certificate_read", "/certificates/c"),
        ("certificate_read", "/certificates/c"),
        ("value_read", "/secrets/c"),
        ("value_read", "/secrets/c"),
    ]
    _started_vaults.remove(vault)  # these violations were the point; the fixture checks the others
    vault.stop()
