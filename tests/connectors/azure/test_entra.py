"""The Entra ID connector against the Graph simulator over real HTTPS (azure-core's pipeline,
the simulator's self-signed certificate, SimulatorCredential): paging, $select and owners,
throttling, refusals, malformed answers and hostile names. Nothing of a secret is kept."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from apps.connectors.base import ConnectorError, SourceConfig, as_jsonable
from apps.connectors.registry import get_connector, plan_units, validate_source_config
from apps.devtools.simulators.graph import MICROSOFT_TENANT_ID, GraphSimulator, key_credential, password_credential
from apps.devtools.simulators.key_vault import SimulatorCredential
from tests.support.hostile import SHORT_TEXT, expected_stored

NOW = datetime.now(UTC)


@pytest.fixture
def graph():
    simulator = GraphSimulator().start()
    yield simulator
    try:
        assert simulator.violations == [], "the connector asked Graph for something beyond the two listings"
    finally:
        simulator.stop()


def collect(graph: GraphSimulator):
    config = validate_source_config(SourceConfig(kind="entra_tenant", graph_tenant_id=graph.tenant_id, graph_url=graph.url))
    [target] = plan_units(config)
    return get_connector(target.kind).collect(target)


def test_applications_and_their_credentials_are_read_over_https_with_owners(graph):
    secret = password_credential("ci deploy", start=NOW - timedelta(days=10), days=730)
    cert = key_credential("CN=billing", start=NOW - timedelta(days=5), days=365)
    app = graph.add_application("billing", owners=["ops@example.com", "dev@example.com"], passwords=[secret], keys=[cert])
    result = collect(graph)

    [identity] = result.identities
    assert identity.external_id == f"applications/{app['id']}" and identity.name == "billing" and identity.kind == "service"
    assert identity.attributes["owners"] == ["ops@example.com", "dev@example.com"] and identity.attributes["owner_count"] == 2
    by_type = {c.credential_type: c for c in result.credentials}
    client_secret, certificate = by_type["entra_client_secret"], by_type["entra_certificate"]
    assert client_secret.external_id == f"applications/{app['id']}/passwordCredentials/{secret['keyId']}"
    assert client_secret.name == "ci deploy" and client_secret.identity_external_id == identity.external_id
    assert (client_secret.expires_at - client_secret.not_before).days == 730
    assert client_secret.attributes["foreign_tenant"] is False and client_secret.attributes["object_type"] == "application"
    assert certificate.attributes["key_type"] == "AsymmetricX509Cert" and certificate.attributes["usage"] == "Verify"
    assert result.errors == [] and result.api_calls == {"list_applications": 1, "list_service_principals": 1}
    # Every request carried a bearer token for Graph's scope, asked of the source's tenant.
    assert all(r.authorized for r in graph.requests)
    assert SimulatorCredential.issued[-1] == ((f"{graph.url}/.default",), graph.tenant_id)
    first = graph.requests[0].query
    assert set(first["$select"][0].split(",")) == {"id", "appId", "displayName", "createdDateTime", "passwordCredentials", "keyCredentials"}
    assert first["$expand"][0].startswith("owners(")


def test_no_hint_or_secret_text_is_kept_anywhere(graph):
    secret = password_credential("prod")
    secret["hint"], secret["secretText"] = "Q~8", "must-never-be-stored"
    graph.add_application("app", owners=["a@example.com"], passwords=[secret])
    graph.add_service_principal("sp", passwords=[{**password_credential("sp secret"), "hint": "Q~8"}])
    result = collect(graph)
    text = json.dumps(as_jsonable(result))
    assert "hint" not in text and "Q~8" not in text and "must-never-be-stored" not in text and "secretText" not in text


def test_paging_follows_every_next_link(graph):
    graph.seed(250)
    result = collect(graph)
    assert len(result.identities) == 250 and len(result.credentials) == 500
    assert result.api_calls["list_applications"] == 3  # 100 + 100 + 50
    assert [r.query.get("$skiptoken") for r in graph.requests if r.path.endswith("applications")] == [None, ["100"], ["200"]]


def test_service_principals_only_with_credentials_and_foreign_tenant_marked(graph):
    graph.add_service_principal("Microsoft Graph", app_owner_organization_id=MICROSOFT_TENANT_ID)  # no credentials: left out
    foreign = graph.add_service_principal("vendor sync", app_owner_organization_id=MICROSOFT_TENANT_ID, passwords=[password_credential()])
    graph.add_service_principal("our own", passwords=[password_credential()])
    result = collect(graph)
    assert {i.name for i in result.identities} == {"vendor sync", "our own"}
    by_name = {c.identity_external_id: c for c in result.credentials}
    vendor = by_name[f"servicePrincipals/{foreign['id']}"]
    assert vendor.attributes["foreign_tenant"] is True and vendor.attributes["app_owner_organization_id"] == MICROSOFT_TENANT_ID
    assert {c.attributes["foreign_tenant"] for c in result.credentials} == {True, False}
    assert result.facts == {"applications": 0, "service_principals_with_credentials": 2}


def test_throttling_is_retried_after_retry_after(graph):
    graph.add_application("app", owners=["a@example.com"], passwords=[password_credential()])
    graph.throttle(times=1, retry_after=0.2, only="applications")
    result = collect(graph)
    assert len(result.credentials) == 1
    assert result.api_calls["list_applications"] == 1  # a retried page counts once
    assert [r.path for r in graph.requests].count("/v1.0/applications") == 2


def test_throttling_beyond_retries_fails_the_unit_as_throttled(graph, settings):
    settings.AZURE_RETRY_TOTAL = 1
    graph.throttle(times=5, retry_after=0.05)
    with pytest.raises(ConnectorError) as failed:
        collect(graph)
    assert failed.value.code == "throttled" and failed.value.retryable


@pytest.mark.parametrize("status, code", [(403, "auth_refused"), (404, "not_found"), (503, "server_error")])
def test_refusals_and_failures_name_the_reason(graph, settings, status, code):
    settings.AZURE_RETRY_TOTAL = 0
    graph.fail(times=3, status=status)
    with pytest.raises(ConnectorError) as failed:
        collect(graph)
    assert failed.value.code == code and "Microsoft Graph" in str(failed.value)


def test_missing_permission_says_which(graph):
    graph.refuse_tokens = True
    with pytest.raises(ConnectorError, match="Application.Read.All") as failed:
        collect(graph)
    assert failed.value.code == "auth_refused"


def test_a_body_that_is_not_json_is_malformed(graph, settings):
    settings.AZURE_RETRY_TOTAL = 0
    graph.malformed_json(times=1)
    with pytest.raises(ConnectorError) as failed:
        collect(graph)
    assert failed.value.code == "malformed_response"


def test_an_unreachable_graph_is_retryable(graph, settings):
    settings.AZURE_RETRY_TOTAL = 0
    url = graph.url
    graph.stop()
    config = validate_source_config(SourceConfig(kind="entra_tenant", graph_tenant_id=graph.tenant_id, graph_url=url))
    with pytest.raises(ConnectorError) as failed:
        get_connector("entra_id").collect(plan_units(config)[0])
    assert failed.value.code == "unreachable" and failed.value.retryable


def test_malformed_items_and_dates_are_item_errors_and_nothing_else_is_lost(graph):
    graph.add_application("good", owners=["a@example.com"], passwords=[password_credential("fine")])
    graph.add_raw("applications", "not an object")
    graph.add_raw("applications", {"displayName": "no id", "passwordCredentials": []})
    odd = graph.add_application(
        "odd",
        passwords=[
            password_credential("bad end", end="2026-02-30T00:00:00Z"),
            password_credential("naive", start="2026-01-01T00:00:00", end="2026-06-01T00:00:00Z"),
            {"displayName": "no key id", "startDateTime": "2026-01-01T00:00:00Z"},
        ],
    )
    odd["keyCredentials"] = "not a list"
    del odd["owners"]  # Graph left owners out
    result = collect(graph)
    assert {i.name for i in result.identities} == {"good", "odd"}
    names = {c.name: c for c in result.credentials}
    assert set(names) == {"fine", "bad end", "naive"}
    assert names["bad end"].expires_at is None and names["bad end"].attributes["malformed_fields"] == ["endDateTime"]
    assert names["naive"].not_before is None and names["naive"].attributes["malformed_fields"] == ["startDateTime"]
    odd_identity = next(i for i in result.identities if i.name == "odd")
    assert odd_identity.attributes["owner_count"] is None and odd_identity.attributes["malformed_fields"] == ["keyCredentials"]
    codes = sorted(e["code"] for e in result.errors)
    assert codes == [
        "malformed_date",
        "malformed_date",
        "malformed_item",
        "malformed_item",
        "malformed_item",
        "malformed_item",
        "missing_field",
    ]


def test_a_next_link_to_another_host_is_refused(graph, monkeypatch):
    graph.add_application("app", owners=["a@example.com"])
    original = GraphSimulator._send

    def redirect(self, handler, status, body, headers=None):
        if isinstance(body, dict) and "value" in body:
            body["@odata.nextLink"] = "https://attacker.example/v1.0/applications?$skiptoken=1"
        return original(self, handler, status, body, headers)

    monkeypatch.setattr(GraphSimulator, "_send", redirect)
    with pytest.raises(ConnectorError) as refused:
        collect(graph)
    assert refused.value.code == "disallowed_operation"


@pytest.mark.hostile
def test_hostile_display_names_and_owners_come_through_as_text(graph):
    for key, value in SHORT_TEXT.items():
        graph.add_application(
            value, owners=[{"@odata.type": "#microsoft.graph.user", "mail": value}], passwords=[password_credential(value)]
        )
        graph.add_service_principal(key, app_owner_organization_id=MICROSOFT_TENANT_ID, keys=[key_credential(value)])
    result = collect(graph)
    assert result.errors == []
    apps = [i.name for i in result.identities if i.attributes["object_type"] == "application"]
    assert sorted(apps) == sorted(SHORT_TEXT.values())
    secrets = [c for c in result.credentials if c.credential_type == "entra_client_secret"]
    assert sorted(expected_stored(c.name) for c in secrets) == sorted(expected_stored(v) for v in SHORT_TEXT.values())
    assert all(c.attributes["owners"] and isinstance(c.attributes["owners"][0], str) for c in secrets)
