"""Azure subscription discovery over real HTTPS: the ARM simulator, the real azure-mgmt-keyvault
client and pipeline. Paging, unknown and unreadable subscriptions, throttling, malformed
answers, vaults deleted between runs, hostile names and tags; nothing but listings is sent."""

from __future__ import annotations

import pytest

from apps.connectors.azure.subscription import AzureSubscription, SubscriptionConnector
from apps.connectors.base import ConnectorError, SourceConfig
from apps.core.errors import ValidationFailed
from apps.devtools.simulators.arm import ArmSimulator
from apps.devtools.simulators.key_vault import DEFAULT_TENANT_ID
from tests.support.hostile import TEXT

SUB_A = "11111111-2222-3333-4444-555555555555"
SUB_B = "22222222-2222-3333-4444-555555555555"
OTHER_TENANT_SUB = "33333333-2222-3333-4444-555555555555"
UNKNOWN = "99999999-2222-3333-4444-555555555555"


@pytest.fixture
def arm(azure_settings):
    simulator = ArmSimulator(default_page_size=2).start()
    azure_settings.AZURE_RESOURCE_MANAGER_URL = simulator.url
    simulator.add_subscription(SUB_A, display_name="prod")
    simulator.add_subscription(SUB_B, display_name="staging")
    simulator.add_subscription(OTHER_TENANT_SUB, display_name="elsewhere", tenant_id="44444444-2222-3333-4444-555555555555")
    yield simulator
    try:
        assert simulator.violations == []
    finally:
        simulator.stop()


def _collect(previous_state=None, **settings):
    config = AzureSubscription.validate(SourceConfig(kind="azure_subscription", **settings))
    (target,) = SubscriptionConnector.targets(config)
    return SubscriptionConnector().collect(target, previous_state=previous_state)


def _tenant(previous_state=None):
    return _collect(previous_state, tenant_id=DEFAULT_TENANT_ID)


def test_every_subscription_of_the_tenant_is_paged_and_each_vault_becomes_a_member(arm):
    for i in range(5):
        arm.add_vault(SUB_A, f"kv-a{i}", vault_url=f"https://kv-a{i}.vault.azure.net")
    arm.add_vault(SUB_B, "kv-b", vault_url="https://kv-b.vault.azure.net", purge_protection=False)
    arm.add_vault(OTHER_TENANT_SUB, "kv-x", vault_url="https://kv-x.vault.azure.net")
    result = _tenant()
    assert result.errors == []
    keys = [m.source_key for m in result.members]
    assert keys == [*(f"https://kv-a{i}.vault.azure.net/" for i in range(5)), "https://kv-b.vault.azure.net/"]
    assert all(m.config.kind == "azure_key_vault" and m.config.vault_url == m.source_key for m in result.members)
    # 3 subscriptions on pages of 2; 5 vaults on 3 pages, 1 vault on 1; the other tenant's skipped;
    # one role assignment listing per subscription with vaults, one diagnostic settings listing per vault.
    assert result.api_calls == {
        "list_subscriptions": 2,
        "list_vaults_by_subscription": 4,
        "list_role_assignments_for_subscription": 2,
        "list_vault_diagnostic_settings": 6,
    }
    assert [s["id"] for s in result.facts["subscriptions"]] == [SUB_A, SUB_B]
    facts = result.facts["member_facts"]["https://kv-b.vault.azure.net/"]
    assert facts["purge_protection"] is False and facts["soft_delete"] is True and facts["subscription_id"] == SUB_B
    assert all(v["event"] == "appeared" for v in result.facts["vaults"])


def test_an_unknown_and_an_unreadable_subscription_are_not_assessed_by_id_the_rest_collected(arm):
    arm.add_vault(SUB_A, "kv-a", vault_url="https://kv-a.vault.azure.net")
    arm.add_subscription(SUB_B, display_name="locked", readable=False)
    result = _collect(subscription_ids=(SUB_A, SUB_B, UNKNOWN))
    assert [m.source_key for m in result.members] == ["https://kv-a.vault.azure.net/"]
    reasons = {e["id"]: e["reason"] for e in result.facts["not_assessed"]}
    assert "404" in reasons[UNKNOWN] and "no such subscription" in reasons[UNKNOWN]
    assert "403" in reasons[SUB_B] and "Reader" in reasons[SUB_B]
    assert {e["item"] for e in result.errors if e["code"] == "subscription_not_assessed"} == {UNKNOWN, SUB_B}


def test_a_disabled_subscription_is_not_assessed_with_its_state(arm):
    arm.add_subscription(SUB_B, display_name="old", state="Disabled")
    result = _tenant()
    (entry,) = result.facts["not_assessed"]
    assert entry["id"] == SUB_B and "Disabled" in entry["reason"]


def test_throttling_is_retried_and_beyond_retries_fails_the_unit(arm):
    arm.add_vault(SUB_A, "kv-a", vault_url="https://kv-a.vault.azure.net")
    arm.throttle(times=2, retry_after=0.01, only="vaults")
    assert [m.name for m in _collect(subscription_ids=(SUB_A,)).members] == ["kv-a"]
    assert [r.status for r in arm.requests].count(429) == 2
    arm.throttle(times=None, retry_after=0.01, only="subscriptions")
    with pytest.raises(ConnectorError) as raised:
        _tenant()
    assert raised.value.code == "throttled" and raised.value.retryable and "Resource Manager" in str(raised.value)


def test_a_malformed_answer_fails_the_unit_never_a_partial_vault_list(arm):
    arm.add_vault(SUB_A, "kv-a", vault_url="https://kv-a.vault.azure.net")
    arm.malformed_json(times=None, only="vaults")
    with pytest.raises(ConnectorError) as raised:
        _collect(subscription_ids=(SUB_A,))
    assert raised.value.code == "malformed_response"
    arm.clear_faults()
    arm.malformed_json(times=None, only="subscriptions")
    with pytest.raises(ConnectorError) as raised:
        _tenant()
    assert raised.value.code == "malformed_response"


def test_a_vault_without_a_usable_uri_or_with_unreadable_settings_is_named(arm):
    arm.add_vault(SUB_A, "good", vault_url="https://good.vault.azure.net")
    arm.add_raw_vault(
        SUB_A, "no-uri", {"id": "/subscriptions/x/vaults/no-uri", "name": "no-uri", "properties": {"vaultUri": "http://plain"}}
    )
    arm.add_raw_vault(
        SUB_A, "odd", {"name": "odd", "properties": {"vaultUri": "https://odd.vault.azure.net/", "enablePurgeProtection": "yes"}}
    )
    arm.add_raw_vault(SUB_A, "not-object", ["a", "list"])
    result = _collect(subscription_ids=(SUB_A,))
    assert [m.name for m in result.members] == ["good", "odd"]
    by_code = {(e["code"], e["item"]) for e in result.errors}
    assert ("malformed_item", "no-uri") in by_code and ("malformed_item", "https://odd.vault.azure.net/") in by_code
    assert any(e["code"] == "malformed_item" and "not an object" in e["message"] for e in result.errors)
    assert result.facts["member_facts"]["https://odd.vault.azure.net/"]["purge_protection"] is None


def test_a_vault_deleted_between_runs_is_left_and_a_new_one_appears(arm):
    arm.add_vault(SUB_A, "kv-a", vault_url="https://kv-a.vault.azure.net")
    arm.add_vault(SUB_A, "kv-b", vault_url="https://kv-b.vault.azure.net")
    first = _collect(subscription_ids=(SUB_A,))
    arm.remove_vault(SUB_A, "kv-b")
    arm.add_vault(SUB_A, "kv-c", vault_url="https://kv-c.vault.azure.net")
    second = _collect(first.state, subscription_ids=(SUB_A,))
    assert [m.name for m in second.members] == ["kv-a", "kv-c"]
    assert second.facts["left"] == [{"key": "https://kv-b.vault.azure.net/", "name": "kv-b", "subscription_id": SUB_A}]
    assert {v["name"]: v["event"] for v in second.facts["vaults"]} == {"kv-a": "", "kv-c": "appeared"}


def test_vaults_of_a_subscription_not_read_this_time_are_not_reported_gone(arm):
    arm.add_vault(SUB_B, "kv-b", vault_url="https://kv-b.vault.azure.net")
    first = _collect(subscription_ids=(SUB_B,))
    arm.add_subscription(SUB_B, display_name="locked", readable=False)
    second = _collect(first.state, subscription_ids=(SUB_B,))
    assert second.facts["left"] == [] and "https://kv-b.vault.azure.net/" in second.state["vaults"]


@pytest.mark.hostile
@pytest.mark.parametrize("value", TEXT.values(), ids=TEXT.keys())
def test_hostile_vault_names_and_tags_are_kept_as_text(arm, value):
    arm.add_vault(SUB_A, "kv", vault_url="https://kv.vault.azure.net", tags={"owner": value, "class": "database"})
    item = arm.add_vault(SUB_A, "kv", vault_url="https://kv.vault.azure.net", tags={"owner": value})
    item["name"] = value
    result = _collect(subscription_ids=(SUB_A,))
    (member,) = result.members
    facts = result.facts["member_facts"][member.source_key]
    assert facts["tags"]["owner"] == value[:500]
    assert facts["vault_name"] == value[:200] and (member.name == value[:200] or not value)


def test_the_spec_validates_subscriptions_and_tenant_by_field():
    config = AzureSubscription.validate(SourceConfig(kind="azure_subscription", subscription_ids=(f" {SUB_B.upper()} ", SUB_A, SUB_A)))
    assert config.subscription_ids == (SUB_A, SUB_B)
    assert AzureSubscription.source_key(config) == f"{SUB_A},{SUB_B}"
    assert AzureSubscription.source_key(
        AzureSubscription.validate(SourceConfig(kind="azure_subscription", tenant_id=DEFAULT_TENANT_ID))
    ) == (f"tenant:{DEFAULT_TENANT_ID}")
    for bad, field in (
        ({"subscription_ids": ("prod",)}, "Subscriptions:"),
        ({"subscription_ids": tuple(f"{i}1111111-2222-3333-4444-555555555555" for i in range(9))}, "Subscriptions:"),
        ({"tenant_id": "contoso"}, "Tenant:"),
        ({}, "Tenant:"),
    ):
        with pytest.raises(ValidationFailed) as raised:
            AzureSubscription.validate(SourceConfig(kind="azure_subscription", **bad))
        assert str(raised.value).startswith(field)


def test_anything_but_a_listing_is_refused_before_it_is_sent(arm):
    from collections import Counter

    from azure.core.rest import HttpRequest

    from apps.connectors.azure.arm import ArmSession
    from apps.connectors.azure.client import DisallowedOperation

    session = ArmSession(Counter())
    try:
        with pytest.raises(DisallowedOperation):
            session.client(SUB_A).send_request(
                HttpRequest(
                    "GET",
                    f"{arm.url}/subscriptions/{SUB_A}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv?api-version=2026-05-15",
                )
            )
        with pytest.raises(DisallowedOperation):
            session.client(SUB_A).send_request(
                HttpRequest("DELETE", f"{arm.url}/subscriptions/{SUB_A}/providers/Microsoft.KeyVault/vaults?api-version=1")
            )
    finally:
        session.close()
    assert arm.requests == []


def test_secret_reading_roles_are_assigned_to_each_vault_by_scope(arm):
    from apps.devtools.simulators.arm import KEY_VAULT_ADMINISTRATOR, KEY_VAULT_SECRETS_OFFICER, KEY_VAULT_SECRETS_USER, READER

    a = arm.add_vault(SUB_A, "kv-a", vault_url="https://kv-a.vault.azure.net", rbac_authorization=True)
    arm.add_vault(SUB_A, "kv-b", vault_url="https://kv-b.vault.azure.net", rbac_authorization=True, resource_group="rg-other")
    arm.add_role_assignment(SUB_A, "everyone-in-sub", KEY_VAULT_SECRETS_USER)
    arm.add_role_assignment(SUB_A, "only-a", KEY_VAULT_SECRETS_OFFICER, scope=a["id"])
    arm.add_role_assignment(SUB_A, "rg-admin", KEY_VAULT_ADMINISTRATOR, scope=f"/subscriptions/{SUB_A}/resourceGroups/rg-keytrail")
    arm.add_role_assignment(SUB_A, "mg-user", KEY_VAULT_SECRETS_USER, scope="/providers/Microsoft.Management/managementGroups/root")
    arm.add_role_assignment(SUB_A, "just-reader", READER)  # control plane only: reads no secret
    for i in range(3):  # page size 2: the role assignments are paged too
        arm.add_role_assignment(SUB_A, f"reader-{i}", READER)
    result = _collect(subscription_ids=(SUB_A,))
    facts = result.facts["member_facts"]

    def principals(key):
        return sorted(g["principal_id"] for g in facts[key]["rbac_secret_readers"])

    assert principals("https://kv-a.vault.azure.net/") == ["everyone-in-sub", "mg-user", "only-a", "rg-admin"]
    assert principals("https://kv-b.vault.azure.net/") == ["everyone-in-sub", "mg-user"]
    assert result.api_calls["list_role_assignments_for_subscription"] == 4  # 8 assignments, 2 a page
    assert result.errors == []


def test_role_assignments_that_cannot_be_read_leave_rbac_readers_unknown_and_named(arm):
    arm.add_vault(SUB_A, "kv-a", vault_url="https://kv-a.vault.azure.net", rbac_authorization=True)
    arm.refuse_role_assignments(SUB_A)
    result = _collect(subscription_ids=(SUB_A,))
    assert [m.name for m in result.members] == ["kv-a"]  # the vault is still collected
    assert result.facts["member_facts"]["https://kv-a.vault.azure.net/"]["rbac_secret_readers"] is None
    (error,) = [e for e in result.errors if e["code"] == "role_assignments_unreadable"]
    assert error["item"] == SUB_A and "403" in error["message"]


def test_diagnostic_settings_say_which_vaults_keep_audit_logs(arm):
    for name in ("audited", "grouped", "disabled", "nowhere", "none", "refused"):
        arm.add_vault(SUB_A, name, vault_url=f"https://{name}.vault.azure.net")
    arm.send_audit_logs(SUB_A, "audited")
    arm.send_audit_logs(SUB_A, "grouped", category_group="allLogs")
    arm.send_audit_logs(SUB_A, "disabled", enabled=False)
    arm.set_diagnostics(SUB_A, "nowhere", [{"name": "metrics-only", "properties": {"logs": [{"category": "AuditEvent", "enabled": True}]}}])
    arm.set_diagnostics(SUB_A, "refused", None)
    result = _collect(subscription_ids=(SUB_A,))
    sending = {f["vault_name"]: f["audit_log_destinations"] for f in result.facts["member_facts"].values()}
    assert sending == {"audited": ["to-sentinel"], "grouped": ["to-sentinel"], "disabled": [], "nowhere": [], "none": [], "refused": None}
    assert [e["item"] for e in result.errors if e["code"] == "diagnostics_unreadable"] == ["https://refused.vault.azure.net/"]
    assert result.api_calls["list_vault_diagnostic_settings"] == 6
