"""KeyVaultConnector against simulated vaults: real HTTPS, the real azure-keyvault-secrets SDK."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from azure.core.exceptions import ClientAuthenticationError

from apps.connectors.base import ConnectorError, as_jsonable
from apps.connectors.kinds import CredentialKind
from apps.devtools.simulators.key_vault import DEFAULT_TENANT_ID, SimulatorCredential

UTC = UTC
T0 = datetime(2025, 1, 15, 8, 30, tzinfo=UTC)


def versions_requests(vault):
    return [r for r in vault.requests if r.path.endswith("/versions")]


def list_requests(vault, status=200):
    return [r for r in vault.requests if r.path == "/secrets" and r.status == status]


class RefusingCredential:
    """A credential that cannot get a token (like DefaultAzureCredential with nothing configured)."""

    def get_token(self, *scopes, **kwargs):
        raise ClientAuthenticationError("no credential available in this environment")

    def close(self):
        pass


# ----------------------------------------------------------------------------- collecting


def test_pages_through_every_secret(vault, collect):
    vault.seed(60, created=T0)

    result = collect(vault)

    assert len(result.credentials) == 60
    assert sorted(c.name for c in result.credentials) == [f"secret-{i:05d}" for i in range(60)]
    assert result.errors == []
    assert result.identities == []
    assert result.api_calls["list_secrets"] == 3  # 25 + 25 + 10
    assert len(list_requests(vault)) == 3
    assert result.api_calls["list_secret_versions"] == 60  # first sight of every secret


def test_maps_every_property(vault, collect):
    vault.add_secret(
        "db-password",
        enabled=True,
        created=T0,
        updated=T0 + timedelta(days=3),
        expires=T0 + timedelta(days=90),
        not_before=T0 - timedelta(hours=1),
        content_type="text/plain",
        tags={"owner": "payments", "request": "CHG-1234"},
        managed=True,
        recovery_level="Recoverable",
        versions=3,
    )
    vault.add_secret("bare", enabled=False, created=T0, recovery_level=None)

    result = collect(vault)

    by_name = {c.name: c for c in result.credentials}
    full = by_name["db-password"]
    assert full.external_id == f"{vault.url}/secrets/db-password"  # no version
    assert full.credential_type == CredentialKind.KV_SECRET
    assert full.identity_external_id is None
    assert full.enabled is True
    assert full.created_at == T0
    assert full.last_changed_at == T0 + timedelta(days=3)
    # Versions were listed: the newest version's creation is the last rotation.
    assert full.last_rotated_at == T0
    assert full.expires_at == T0 + timedelta(days=90)
    assert full.not_before == T0 - timedelta(hours=1)
    assert full.tags == {"owner": "payments", "request": "CHG-1234"}
    assert full.attributes == {
        "content_type": "text/plain",
        "managed": True,
        "recovery_level": "Recoverable",
        "vault_url": vault.url,
        "version_count": 3,
    }
    for value in (full.created_at, full.last_rotated_at, full.expires_at, full.not_before):
        assert value.tzinfo is not None and value.utcoffset() == timedelta(0)

    bare = by_name["bare"]
    assert bare.enabled is False
    assert bare.expires_at is None and bare.not_before is None
    assert bare.tags == {}
    assert bare.attributes == {
        "content_type": None,
        "managed": None,
        "recovery_level": None,
        "vault_url": vault.url,
        "version_count": 1,
    }
    json.dumps(as_jsonable(result))  # the whole result is JSON-safe


def test_last_rotated_at_is_updated_on_when_versions_cannot_be_listed(vault, collect):
    vault.add_secret("a", created=T0, updated=T0 + timedelta(days=1))
    vault.add_secret("b", created=T0, updated=T0 + timedelta(days=2))
    vault.fail(times=None, status=503, only="versions")

    result = collect(vault)

    assert {c.name: c.last_rotated_at for c in result.credentials} == {
        "a": T0 + timedelta(days=1),
        "b": T0 + timedelta(days=2),
    }
    assert all("version_count" not in c.attributes for c in result.credentials)
    assert [(e["code"], e["item"]) for e in result.errors] == [
        ("versions_unavailable", f"{vault.url}/secrets/a"),
        ("versions_unavailable", f"{vault.url}/secrets/b"),
    ]
    assert result.state["secrets"] == {}  # so both are listed again next time


def test_two_vaults_are_collected_separately(vault_factory, collect):
    east, west = vault_factory("east"), vault_factory("west")
    east.add_secret("shared-name", created=T0, tags={"vault": "east"})
    west.add_secret("shared-name", created=T0, tags={"vault": "west"})
    west.add_secret("west-only", created=T0)

    east_result, west_result = collect(east), collect(west)

    assert [(c.external_id, c.tags) for c in east_result.credentials] == [(f"{east.url}/secrets/shared-name", {"vault": "east"})]
    assert [c.external_id for c in west_result.credentials] == [
        f"{west.url}/secrets/shared-name",
        f"{west.url}/secrets/west-only",
    ]
    assert east_result.target.unit == f"azure_key_vault:{east.url}"
    assert len(versions_requests(east)) == 1 and len(versions_requests(west)) == 2


def test_follows_the_bearer_challenge(vault, collect):
    vault.seed(30, created=T0)

    collect(vault)

    first, second = vault.requests[:2]
    assert (first.path, first.status) == ("/secrets", 401)  # the SDK's unauthenticated probe
    assert (second.path, second.status) == ("/secrets", 200)
    assert [r.status for r in vault.requests[1:]] == [200] * (len(vault.requests) - 1)
    # One token, for the resource and tenant the challenge named, reused for every page.
    assert SimulatorCredential.issued == [(("https://vault.azure.net/.default",), DEFAULT_TENANT_ID)]


def test_challenge_resource_check_stays_on_by_default(vault, collect, settings):
    settings.AZURE_VERIFY_CHALLENGE_RESOURCE = True  # production: 127.0.0.1 is not *.vault.azure.net
    vault.add_secret("a", created=T0)

    with pytest.raises(ConnectorError) as err:
        collect(vault)

    assert err.value.code == "auth_refused"
    assert "does not match" in str(err.value)


# --------------------------------------------------------------------------------- failures


def test_vault_refusing_the_token_is_auth_refused(vault, collect):
    vault.add_secret("a", created=T0)
    vault.refuse_tokens = True

    with pytest.raises(ConnectorError) as err:
        collect(vault)

    assert err.value.code == "auth_refused"
    assert err.value.retryable is False
    assert "403" in str(err.value)
    assert [r.status for r in vault.requests] == [401, 403]  # not retried


def test_credential_without_a_token_is_auth_refused(vault, collect, settings):
    settings.AZURE_CREDENTIAL_CLASS = f"{__name__}.RefusingCredential"
    vault.add_secret("a", created=T0)

    with pytest.raises(ConnectorError) as err:
        collect(vault)

    assert err.value.code == "auth_refused"
    assert "no credential available" in str(err.value)


def test_unimportable_credential_class_is_config_error(vault, collect, settings):
    settings.AZURE_CREDENTIAL_CLASS = "nowhere.NoSuchCredential"

    with pytest.raises(ConnectorError) as err:
        collect(vault)

    assert err.value.code == "config_error"


def test_throttling_honours_retry_after_then_succeeds(vault, collect):
    vault.seed(30, created=T0)
    vault.throttle(times=2, retry_after=0.3, only="list")

    started = time.monotonic()
    result = collect(vault)
    elapsed = time.monotonic() - started

    assert len(result.credentials) == 30
    assert [r.status for r in vault.requests if r.path == "/secrets"] == [401, 429, 429, 200, 200]
    assert elapsed >= 0.6  # backoff is 0.01 s in tests: the wait came from Retry-After
    assert result.api_calls["list_secrets"] == 2  # pages, not attempts


def test_throttling_beyond_retries_is_throttled(vault, collect):
    vault.add_secret("a", created=T0)
    vault.throttle(times=None, retry_after=0.05)

    with pytest.raises(ConnectorError) as err:
        collect(vault)

    assert err.value.code == "throttled"
    assert err.value.retryable is True
    assert [r.status for r in vault.requests] == [401, 429, 429, 429]  # AZURE_RETRY_TOTAL = 2


def test_persistent_server_error_is_a_clear_error(vault, collect):
    vault.add_secret("a", created=T0)
    vault.fail(times=None, status=500)

    with pytest.raises(ConnectorError) as err:
        collect(vault)

    assert err.value.code == "server_error"
    assert err.value.retryable is True
    assert "HTTP 500" in str(err.value) and vault.url in str(err.value)


def test_transient_server_error_is_retried(vault, collect):
    vault.add_secret("a", created=T0)
    vault.fail(times=2, status=500)

    assert [c.name for c in collect(vault).credentials] == ["a"]


def test_response_slower_than_read_timeout_is_unreachable(vault, collect, settings):
    settings.AZURE_READ_TIMEOUT = 0.3
    settings.AZURE_RETRY_TOTAL = 1
    vault.add_secret("a", created=T0)
    vault.slow(3, times=None)

    started = time.monotonic()
    with pytest.raises(ConnectorError) as err:
        collect(vault)

    assert err.value.code == "unreachable"
    assert err.value.retryable is True
    assert time.monotonic() - started < 2.5


def test_stopped_vault_is_unreachable(vault, collect):
    vault.stop()  # the URL keeps its port; nothing listens there now

    with pytest.raises(ConnectorError) as err:
        collect(vault)

    assert err.value.code == "unreachable"


def test_untrusted_certificate_is_tls_error(vault, collect, settings):
    settings.AZURE_CONNECTION_VERIFY = ""  # the system store does not know the simulator's CA
    vault.add_secret("a", created=T0)

    with pytest.raises(ConnectorError) as err:
        collect(vault)

    assert err.value.code == "tls_error"
    assert err.value.retryable is False
    assert vault.requests == []  # no request got past the handshake


def test_truncated_body_is_a_clear_error(vault, collect):
    vault.seed(3, created=T0)
    vault.truncate(times=None, only="list")

    with pytest.raises(ConnectorError) as err:
        collect(vault)

    assert err.value.code == "malformed_response"
    assert "truncated" in str(err.value)


def test_malformed_json_is_a_clear_error(vault, collect):
    vault.seed(3, created=T0)
    vault.malformed_json(times=None, only="list")

    with pytest.raises(ConnectorError) as err:
        collect(vault)

    assert err.value.code == "malformed_response"
    assert "JSON" in str(err.value)


def test_malformed_items_are_recorded_and_the_rest_kept(vault, collect):
    vault.seed(30, created=T0)
    vault.add_raw_item(
        {"id": f"{vault.url}/secrets/bad-created", "attributes": {"created": "yesterday", "updated": 1700000000}},
        sort_key="secret-00003x",
    )
    vault.add_raw_item({"attributes": {"enabled": True, "created": 1700000000}}, sort_key="secret-00010x")  # no id
    vault.add_raw_item({"id": f"{vault.url}/secrets/odd-shapes", "attributes": "oops", "tags": ["x"]}, sort_key="secret-00026x")
    # The SDK would read both flags as True: bool("false").
    vault.add_raw_item(
        {"id": f"{vault.url}/secrets/string-flags", "attributes": {"enabled": "false"}, "managed": "no"},
        sort_key="secret-00001x",  # page 1, which the SDK builds itself
    )

    result = collect(vault)

    names = {c.name for c in result.credentials}
    assert names == {f"secret-{i:05d}" for i in range(30)} | {"bad-created", "odd-shapes", "string-flags"}
    assert {(e["code"], e["item"]) for e in result.errors} == {
        ("malformed_item", "(no id)"),
        ("malformed_item", f"{vault.url}/secrets/bad-created"),  # the item, and its only version
        ("malformed_item", f"{vault.url}/secrets/odd-shapes"),
        ("malformed_item", f"{vault.url}/secrets/string-flags"),
    }
    bad = next(c for c in result.credentials if c.name == "bad-created")
    assert bad.created_at is None  # unknown, not a guess
    assert bad.last_changed_at == datetime.fromtimestamp(1700000000, tz=UTC)
    assert bad.attributes["malformed_fields"] == ["created"]
    odd = next(c for c in result.credentials if c.name == "odd-shapes")
    assert odd.enabled is None and odd.created_at is None and odd.tags == {}
    assert set(odd.attributes["malformed_fields"]) >= {"enabled", "created", "updated", "tags"}
    flags = next(c for c in result.credentials if c.name == "string-flags")
    assert flags.enabled is None and flags.attributes["managed"] is None
    assert flags.attributes["malformed_fields"] == ["enabled", "managed"]
    assert result.api_calls["list_secrets"] == 2


def test_item_whose_id_the_sdk_cannot_parse_costs_only_that_item(vault, collect):
    # The SDK builds a page's items together and one unparseable id fails the whole page;
    # the connector then reads that page's raw JSON itself and resumes from its nextLink.
    vault.seed(40, created=T0)
    good_attributes = {"enabled": True, "created": 1700000000, "updated": 1700000000}
    vault.add_raw_item({"id": "not a key vault id", "attributes": good_attributes}, sort_key="secret-00005x")
    vault.add_raw_item(
        {"id": f"{vault.url}/secrets/bad-created", "attributes": {"created": "soon", "updated": 1700000000}},
        sort_key="secret-00006x",
    )

    result = collect(vault)

    assert {c.name for c in result.credentials} == {f"secret-{i:05d}" for i in range(40)} | {"bad-created"}
    assert {(e["code"], e["item"]) for e in result.errors} == {
        ("malformed_item", f"{vault.url}/secrets/bad-created"),
        ("malformed_item", "not a key vault id"),
    }
    from_raw = next(c for c in result.credentials if c.name == "secret-00000")
    from_sdk = next(c for c in result.credentials if c.name == "secret-00039")
    assert as_jsonable(from_raw)["attributes"].keys() == as_jsonable(from_sdk)["attributes"].keys()
    assert from_raw.created_at == from_sdk.created_at == T0
    assert result.api_calls["list_secrets"] == 2


def test_hostile_tag_values_are_kept_verbatim(vault, collect):
    hostile = {
        "formula": "=cmd|' /C calc'!A0",
        "plus": "+1",
        "minus": "-1",
        "at": "@SUM(1)",
        "markup": "<script>alert(1)</script>",
        "long": "x" * 10_240,
        "bidi": "invoice\u202etxt.exe",
        "zero-width": "ad\u200bmin",
        '=HYPERLINK("http://evil")': "key too",
    }
    vault.add_secret("hostile", created=T0, tags=hostile, content_type="=1+1")

    (record,) = collect(vault).credentials

    assert record.tags == hostile
    assert record.attributes["content_type"] == "=1+1"


# ------------------------------------------------------------------------------ repeat runs


def test_repeat_collection_of_unchanged_vault_makes_only_list_calls(vault, collect):
    vault.seed(60, created=T0, versions=2)
    first = collect(vault)
    vault.clear_requests()

    second = collect(vault, previous_state=first.state)

    assert dict(second.api_calls) == {"list_secrets": 3}
    assert versions_requests(vault) == []
    assert [r.path for r in vault.requests] == ["/secrets"] * 3
    assert as_jsonable(second.credentials) == as_jsonable(first.credentials)
    assert second.state == first.state
    assert json.loads(json.dumps(second.state)) == second.state


def test_repeat_collection_lists_versions_only_for_changed_secrets(vault, collect):
    vault.seed(10, created=T0)
    first = collect(vault)
    rotated_at = T0 + timedelta(days=30)
    vault.add_version("secret-00002", created=rotated_at)
    vault.update_properties("secret-00005", updated=T0 + timedelta(days=1), tags={"owner": "new"})
    vault.add_secret("brand-new", created=T0)
    vault.clear_requests()

    second = collect(vault, previous_state=first.state)

    assert second.api_calls["list_secret_versions"] == 3
    assert sorted(r.path for r in versions_requests(vault)) == [
        "/secrets/brand-new/versions",
        "/secrets/secret-00002/versions",
        "/secrets/secret-00005/versions",
    ]
    by_name = {c.name: c for c in second.credentials}
    assert by_name["secret-00002"].last_rotated_at == rotated_at
    assert by_name["secret-00002"].attributes["version_count"] == 2
    assert by_name["secret-00005"].last_rotated_at == T0  # a property edit is not a rotation
    assert by_name["secret-00005"].tags == {"owner": "new"}


@pytest.mark.parametrize(
    "state",
    [None, {}, "junk", {"v": 99, "secrets": {}}, {"v": 1, "secrets": "junk"}, {"v": 1, "secrets": {"x": "junk"}}],
)
def test_unusable_previous_state_means_a_full_collection(vault, collect, state):
    vault.seed(3, created=T0)

    result = collect(vault, previous_state=state)

    assert result.api_calls["list_secret_versions"] == 3
    assert len(result.state["secrets"]) == 3


# ------------------------------------------------------------------- many versions at once


def test_many_new_secrets_have_their_versions_listed_on_threads(vault, collect, settings):
    settings.AZURE_KEY_VAULT_VERSION_CONCURRENCY = 4
    vault.seed(130, created=T0, versions=2)
    vault.add_version("secret-00077", created=T0 + timedelta(days=40))

    result = collect(vault)

    assert len(result.credentials) == 130 and result.errors == []
    by_name = {c.name: c for c in result.credentials}
    assert by_name["secret-00077"].attributes["version_count"] == 3
    assert by_name["secret-00077"].last_rotated_at == T0 + timedelta(days=40)
    assert all(c.attributes["version_count"] == 2 for n, c in by_name.items() if n != "secret-00077")
    # Every call counted once across the threads' clients; the SDK remembers the vault's challenge.
    assert result.api_calls["list_secret_versions"] == 130 == len(versions_requests(vault))
    assert len([r for r in vault.requests if r.status == 401]) == 1
    assert len(result.state["secrets"]) == 130

    repeat = collect(vault, previous_state=result.state)
    assert repeat.api_calls.get("list_secret_versions", 0) == 0
    assert {c.name: c.attributes["version_count"] for c in repeat.credentials} == {
        n: c.attributes["version_count"] for n, c in by_name.items()
    }


def test_threaded_version_failures_are_item_errors_in_listing_order(vault, collect, settings):
    settings.AZURE_KEY_VAULT_VERSION_CONCURRENCY = 3
    vault.seed(120, created=T0)
    vault.fail(times=None, status=503, only="versions")

    result = collect(vault)

    assert [e["item"] for e in result.errors] == [f"{vault.url}/secrets/secret-{i:05d}" for i in range(120)]
    assert {e["code"] for e in result.errors} == {"versions_unavailable"}
    assert result.state["secrets"] == {}  # nothing remembered: asked again next time


def test_a_vault_level_refusal_on_a_version_thread_fails_the_collection(vault, collect, settings):
    vault.seed(110, created=T0)
    vault.fail(times=None, status=403, only="versions")

    with pytest.raises(ConnectorError) as err:
        collect(vault)

    assert err.value.code == "auth_refused"
