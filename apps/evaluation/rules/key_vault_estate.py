"""Rules about Key Vaults themselves, from the facts Resource Manager gives about each vault
discovered in an Azure subscription (``member_facts`` of the subscription's discovery, read as
the vault source's facts): protected storage, and who may read secrets."""

from __future__ import annotations

from typing import Any

from apps.evaluation.rules.base import Rule, RuleContext, SourceFacts, Verdict, failed, not_assessed, passed

KEY_VAULT = "azure_key_vault"
_NO_FACTS = (
    "its vault-level facts come from Resource Manager, read when the vault is discovered in a registered Azure "
    "subscription; none were read for this vault (registered by URL, or its subscription not collected yet)"
)


def _facts(s: SourceFacts) -> dict[str, Any] | None:
    facts = s.iam_facts
    return facts if isinstance(facts, dict) and "vault_name" in facts else None


class _VaultRule(Rule):
    """A rule over each enabled Key Vault source, judged on its Resource Manager facts."""

    def applies(self, s: SourceFacts) -> bool:
        return s.kind == KEY_VAULT and s.enabled is True


class VaultProtectedStorage(_VaultRule):
    id = "kv-vault-protected-storage"
    title = "Key Vaults keep deleted secrets recoverable and are not open to every network"
    severity = "high"
    subject = "source"
    requirements = ("9.2.4.05",)
    scope_kind = "azure_subscription"
    explanation = (
        "Secrets are kept in a central store that protects them. Each enabled Key Vault source fails when Resource "
        "Manager says soft delete is off or keeps deleted objects fewer days than the policy's minimum, when purge "
        "protection is off and the policy requires it, or when public network access is enabled with no firewall "
        "default of Deny and the policy does not allow public access. The reason lists every gap. A vault registered "
        "by URL only (no Resource Manager facts), or whose answer had unreadable values for these settings, is not "
        "assessed with the reason."
    )

    def evaluate(self, s: SourceFacts, ctx: RuleContext) -> Verdict:
        label = f"Key Vault {s.name}"
        facts = _facts(s)
        if facts is None:
            return not_assessed(f"{label}: {_NO_FACTS}", vault_facts=None)
        policy = ctx.policy
        soft_delete = facts.get("soft_delete")
        retention = facts.get("soft_delete_retention_days")
        purge = facts.get("purge_protection")
        public = facts.get("public_network_access")
        default_action = facts.get("network_default_action")
        data = {
            "soft_delete": soft_delete,
            "soft_delete_retention_days": retention,
            "purge_protection": purge,
            "public_network_access": public,
            "network_default_action": default_action,
            "min_soft_delete_days": policy.kv_vault_min_soft_delete_days,
            "require_purge_protection": policy.kv_vault_require_purge_protection,
            "allow_public_network": policy.kv_vault_allow_public_network,
        }
        gaps: list[str] = []
        unknown: list[str] = []
        if soft_delete is False:
            gaps.append("soft delete is off: a deleted secret is gone at once")
        elif soft_delete is None:
            unknown.append("soft delete was not reported or could not be read")
        elif isinstance(retention, int) and retention < policy.kv_vault_min_soft_delete_days:
            gaps.append(f"deleted objects are kept {retention} days, below the policy's {policy.kv_vault_min_soft_delete_days}")
        if policy.kv_vault_require_purge_protection:
            if purge is False:
                gaps.append("purge protection is off: a deleted secret can be purged before its retention ends")
            elif purge is None:
                unknown.append("purge protection could not be read")
        if not policy.kv_vault_allow_public_network:
            restricted = (isinstance(public, str) and public.lower() == "disabled") or (
                isinstance(default_action, str) and default_action.lower() == "deny"
            )
            if public is None:
                unknown.append("public network access could not be read")
            elif not restricted:
                gaps.append(
                    f"public network access is {str(public)[:40]} and the firewall default is {str(default_action or 'Allow')[:40]}"
                )
        if gaps:
            return failed(f"{label}: {'; '.join(gaps + unknown)}", **data)
        if unknown:
            return not_assessed(f"{label}: {'; '.join(unknown)}", **data)
        return passed(f"{label}: soft delete on ({retention} days), purge protection and network access as the policy requires", **data)


class VaultSecretReaders(_VaultRule):
    id = "kv-vault-secret-readers"
    title = "Few principals may read a Key Vault's secrets"
    severity = "medium"
    subject = "source"
    requirements = ("9.2.4.07",)
    scope_kind = "azure_subscription"
    explanation = (
        "Reading a stored secret is limited to the few who need it. Each enabled Key Vault source fails when more "
        "principals than the policy's limit may read its secrets: through access policies granting secret 'get' for a "
        "vault using access policies, or through the Key Vault Secrets User, Secrets Officer or Administrator roles "
        "assigned at the vault, its resource group, its subscription or above for a vault using Azure RBAC. The "
        "evidence lists the principals. A vault registered by URL only, or whose access model, access policies or "
        "role assignments could not be read, is not assessed."
    )

    def evaluate(self, s: SourceFacts, ctx: RuleContext) -> Verdict:
        label = f"Key Vault {s.name}"
        facts = _facts(s)
        if facts is None:
            return not_assessed(f"{label}: {_NO_FACTS}", secret_readers=None)
        limit = ctx.policy.kv_vault_max_secret_readers
        rbac = facts.get("rbac_authorization")
        data: dict[str, Any] = {"rbac_authorization": rbac, "limit": limit}
        if rbac is None:
            return not_assessed(f"{label}: whether it uses RBAC or access policies could not be read", secret_readers=None, **data)
        if rbac is True:
            grants = facts.get("rbac_secret_readers")
            if not isinstance(grants, list):
                return not_assessed(f"{label} uses Azure RBAC and its role assignments could not be read", secret_readers=None, **data)
            readers = sorted({str(g.get("principal_id")) for g in grants if isinstance(g, dict)})
            data["role_assignments"] = grants
            how = "hold a secret-reading Key Vault role"
        else:
            principals = facts.get("secret_get_principals")
            if not isinstance(principals, list):
                return not_assessed(f"{label}: its access policies could not be read", secret_readers=None, **data)
            readers = [str(p) for p in principals]
            how = "hold secret 'get' through access policies"
        data.update(secret_readers=readers, secret_reader_count=len(readers))
        if len(readers) > limit:
            return failed(f"{label}: {len(readers)} principals {how}, above the limit of {limit}", **data)
        return passed(f"{label}: {len(readers)} principal(s) {how}, within the limit of {limit}", **data)


class VaultAuditLogging(_VaultRule):
    id = "kv-vault-audit-logging"
    title = "Key Vaults send their audit logs somewhere they are kept"
    severity = "medium"
    subject = "source"
    requirements = ("9.2.4.18",)
    scope_kind = "azure_subscription"
    explanation = (
        "Every read and change of a secret is recorded where it outlives the vault. Each enabled Key Vault source "
        "fails when none of its diagnostic settings sends its AuditEvent logs (the category, or the audit or allLogs "
        "category group, enabled) to a Log Analytics workspace, a storage account, an event hub or a partner "
        "destination. The evidence names the settings that do. A vault registered by URL only, or whose diagnostic "
        "settings could not be read, is not assessed."
    )

    def evaluate(self, s: SourceFacts, ctx: RuleContext) -> Verdict:
        label = f"Key Vault {s.name}"
        facts = _facts(s)
        if facts is None:
            return not_assessed(f"{label}: {_NO_FACTS}", audit_log_destinations=None)
        sending = facts.get("audit_log_destinations")
        if not isinstance(sending, list):
            return not_assessed(f"{label}: its diagnostic settings could not be read", audit_log_destinations=None)
        if not sending:
            return failed(f"{label}: no diagnostic setting sends its AuditEvent logs anywhere", audit_log_destinations=[])
        return passed(
            f"{label}: audit logs sent by diagnostic setting(s) {', '.join(map(str, sending))[:300]}", audit_log_destinations=sending
        )
