"""Vault-level rules on the facts Resource Manager gives about a discovered Key Vault: both
sides of every limit, and the not-assessed paths (no facts, unreadable values, RBAC)."""

import pytest

from apps.connectors.azure.subscription import vault_facts
from apps.devtools.simulators.arm import vault_resource
from apps.evaluation.rules.key_vault_estate import VaultAuditLogging, VaultProtectedStorage, VaultSecretReaders
from tests.evaluation.rules.facts import ctx, source

SUB = "11111111-2222-3333-4444-555555555555"


def _vault(extra=None, **properties):
    facts, _bad = vault_facts(vault_resource(SUB, "payments", vault_url="https://payments.vault.azure.net", **properties), SUB)
    return source(name="payments", kind="azure_key_vault", iam_facts={**facts, **(extra or {})})


def _raw(properties):
    item = vault_resource(SUB, "payments", vault_url="https://payments.vault.azure.net")
    item["properties"].update(properties)
    facts, bad = vault_facts(item, SUB)
    assert bad
    return source(name="payments", kind="azure_key_vault", iam_facts=facts)


def test_rules_apply_to_key_vault_sources_only():
    assert VaultProtectedStorage().applies(_vault()) and VaultSecretReaders().applies(_vault())
    assert not VaultProtectedStorage().applies(source(kind="aws_account"))
    assert not VaultSecretReaders().applies(source(kind="azure_key_vault", enabled=False))


def test_a_well_protected_vault_passes():
    verdict = VaultProtectedStorage().evaluate(_vault(), ctx())
    assert verdict.status == "pass", verdict.reason
    assert verdict.data["purge_protection"] is True and verdict.data["public_network_access"] == "Disabled"


@pytest.mark.parametrize(
    "properties, status, words",
    [
        ({"soft_delete": False}, "fail", "soft delete is off"),
        ({"purge_protection": False}, "fail", "purge protection is off"),
        ({"purge_protection": None}, "fail", "purge protection is off"),  # ARM leaves it out when off
        ({"public_network_access": "Enabled", "network_default_action": "Allow"}, "fail", "public network access is Enabled"),
        ({"public_network_access": None, "network_default_action": None}, "fail", "public network access is Enabled"),
        ({"public_network_access": "Enabled", "network_default_action": "Deny"}, "pass", "soft delete on"),  # firewall restricts
        ({"soft_delete": None}, "not_assessed", "soft delete was not reported"),
    ],
)
def test_each_protection_gap_fails_by_name(properties, status, words):
    verdict = VaultProtectedStorage().evaluate(_vault(**properties), ctx())
    assert verdict.status == status and words in verdict.reason, verdict.reason


@pytest.mark.parametrize("days, status", [(6, "fail"), (7, "pass"), (90, "pass")])
def test_soft_delete_retention_on_both_sides_of_the_limit(days, status):
    verdict = VaultProtectedStorage().evaluate(_vault(soft_delete_retention_days=days), ctx(kv_vault_min_soft_delete_days=7))
    assert verdict.status == status, verdict.reason
    if status == "fail":
        assert "kept 6 days, below the policy's 7" in verdict.reason


def test_policy_choices_allow_public_access_and_no_purge_protection():
    open_vault = _vault(purge_protection=False, public_network_access="Enabled", network_default_action="Allow")
    assert VaultProtectedStorage().evaluate(open_vault, ctx()).status == "fail"
    relaxed = ctx(kv_vault_require_purge_protection=False, kv_vault_allow_public_network=True)
    assert VaultProtectedStorage().evaluate(open_vault, relaxed).status == "pass"


def test_no_resource_manager_facts_is_not_assessed_never_pass():
    hand_registered = source(name="kv-by-url", kind="azure_key_vault", iam_facts=None)
    for rule in (VaultProtectedStorage(), VaultSecretReaders()):
        verdict = rule.evaluate(hand_registered, ctx())
        assert verdict.status == "not_assessed" and "Resource Manager" in verdict.reason


def test_unreadable_values_are_not_assessed_or_fail_never_pass():
    verdict = VaultProtectedStorage().evaluate(_raw({"enablePurgeProtection": "yes"}), ctx())
    assert verdict.status == "not_assessed" and "purge protection could not be read" in verdict.reason
    verdict = VaultProtectedStorage().evaluate(_raw({"enablePurgeProtection": "yes", "enableSoftDelete": False}), ctx())
    assert verdict.status == "fail" and "could not be read" in verdict.reason
    verdict = VaultSecretReaders().evaluate(_raw({"accessPolicies": "everyone"}), ctx())
    assert verdict.status == "not_assessed" and "access policies could not be read" in verdict.reason


@pytest.mark.parametrize("readers, status", [(5, "pass"), (6, "fail"), (0, "pass")])
def test_secret_readers_on_both_sides_of_the_limit(readers, status):
    principals = tuple(f"0000000{i}-0000-0000-0000-000000000000" for i in range(readers))
    vault = _vault(secret_get_principals=principals, other_principals=("list-only",))
    verdict = VaultSecretReaders().evaluate(vault, ctx(kv_vault_max_secret_readers=5))
    assert verdict.status == status, verdict.reason
    assert verdict.data["secret_reader_count"] == readers and "list-only" not in verdict.data["secret_readers"]
    if status == "fail":
        assert "6 principals hold secret 'get'" in verdict.reason and "limit of 5" in verdict.reason


def test_a_vault_using_rbac_without_readable_role_assignments_is_not_assessed():
    verdict = VaultSecretReaders().evaluate(_vault(rbac_authorization=True), ctx())
    assert verdict.status == "not_assessed" and "RBAC" in verdict.reason and "could not be read" in verdict.reason
    verdict = VaultSecretReaders().evaluate(_vault({"rbac_secret_readers": None}, rbac_authorization=True), ctx())
    assert verdict.status == "not_assessed"
    verdict = VaultSecretReaders().evaluate(_vault(rbac_authorization=None), ctx())
    assert verdict.status == "not_assessed"


@pytest.mark.parametrize("principals, status", [(5, "pass"), (6, "fail")])
def test_rbac_secret_readers_on_both_sides_of_the_limit(principals, status):
    grants = [{"principal_id": f"p{i}", "role": "Key Vault Secrets User", "scope": f"/subscriptions/{SUB}"} for i in range(principals)]
    grants.append(
        {"principal_id": "p0", "role": "Key Vault Secrets Officer", "scope": "/subscriptions/x/vaults/payments"}
    )  # same principal twice
    vault = _vault({"rbac_secret_readers": grants}, rbac_authorization=True, secret_get_principals=tuple(f"ap{i}" for i in range(9)))
    verdict = VaultSecretReaders().evaluate(vault, ctx(kv_vault_max_secret_readers=5))
    assert verdict.status == status, verdict.reason
    assert verdict.data["secret_reader_count"] == principals and "Key Vault role" in verdict.reason  # access policies ignored under RBAC


@pytest.mark.parametrize(
    "destinations, status, words",
    [
        (["to-sentinel"], "pass", "to-sentinel"),
        ([], "fail", "no diagnostic setting sends its AuditEvent logs"),
        (None, "not_assessed", "could not be read"),
    ],
)
def test_audit_logging_pass_fail_and_unreadable(destinations, status, words):
    verdict = VaultAuditLogging().evaluate(_vault({"audit_log_destinations": destinations}), ctx())
    assert verdict.status == status and words in verdict.reason
    assert VaultAuditLogging().evaluate(_vault(), ctx()).status == "not_assessed"  # never read: not a pass
    assert VaultAuditLogging().evaluate(source(kind="azure_key_vault", iam_facts=None), ctx()).status == "not_assessed"


def test_policy_bounds_refuse_impossible_limits():
    from apps.evaluation.policy import PolicyError, policy_from_dict

    for bad in ({"kv_vault_min_soft_delete_days": 6}, {"kv_vault_min_soft_delete_days": 91}, {"kv_vault_max_secret_readers": 0}):
        with pytest.raises(PolicyError):
            policy_from_dict(bad)
    with pytest.raises(PolicyError):
        policy_from_dict({"kv_vault_allow_public_network": "yes"})
