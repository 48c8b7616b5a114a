"""Azure subscriptions as a source: their Key Vaults, discovered through Resource Manager.

The source names one or several subscription ids, or none and a tenant id: then every
subscription of that tenant the identity can read. Credentials come from the same chain as
the Key Vault source (``AZURE_CREDENTIAL_CLASS``); Resource Manager is reached at
``AZURE_RESOURCE_MANAGER_URL``.

One discovery unit per collection (:class:`SubscriptionConnector`), like an AWS organisation's
(ADR 0006, ADR 0011):

1. With no subscription ids: ``GET /subscriptions`` (all pages), kept to the source's tenant.
   A subscription that is not ``Enabled`` (or ``Warned``/``PastDue``, still readable) is not
   assessed, with the reason.
2. Per subscription: ``vaults.list_by_subscription`` (azure-mgmt-keyvault, all pages or
   nothing: a partial list would make the missing vaults look gone). A subscription that does
   not exist (404) or that the identity may not read (403) is not assessed, by id, with the
   reason; the other subscriptions are still collected.
3. Each vault with a usable ``vaultUri`` becomes a :class:`MemberSource` of kind
   ``azure_key_vault``: the inventory registers it under the subscription source and collects
   its units (every connector registered for Key Vault) in the same run, each its own task. A
   vault whose data plane refuses keytrail fails its own unit, by name.
4. The vault-level facts of each vault's ARM resource (soft delete, purge protection, RBAC or
   access policies, public network access, the principals whose access policy grants secret
   ``get``) are the discovery's ``member_facts``, keyed by vault URL; the evaluation reads them as
   the member vault's source facts (rules ``kv-vault-protected-storage``,
   ``kv-vault-secret-readers``).

Compared with the previous discovery (``state``), a vault is ``appeared`` (new) or, in
``left``, gone (deleted, or moved out of the subscriptions).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from azure.core.exceptions import HttpResponseError

from apps.connectors.azure.arm import arm_session
from apps.connectors.azure.errors import to_connector_error
from apps.connectors.azure.source import KeyVault
from apps.connectors.base import (
    CollectionResult,
    Connector,
    ConnectorError,
    MemberSource,
    SettingField,
    SourceConfig,
    SourceSpec,
    Target,
)
from apps.connectors.kinds import SourceKind
from apps.core.errors import ValidationFailed
from apps.core.text import storable_tree

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
MAX_SUBSCRIPTIONS = 8  # the source key (the ids) must fit its column; register more as more sources
READABLE_STATES = frozenset({"Enabled", "Warned", "PastDue"})
NAME_MAX = 200


class AzureSubscription(SourceSpec):
    kind = SourceKind.AZURE_SUBSCRIPTION
    key_label = "Azure subscription(s)"
    key_setting = "subscription_ids"
    fields = (
        SettingField(
            "subscription_ids",
            "Subscriptions",
            required=False,
            max_length=400,
            many=True,
            help_text=f"Up to {MAX_SUBSCRIPTIONS} subscription ids (GUIDs). Empty: every subscription of the tenant this identity can read.",
            empty="every readable subscription of the tenant",
        ),
        SettingField(
            "tenant_id",
            "Tenant",
            required=False,
            max_length=36,
            help_text="The Entra ID tenant (directory) id; required when no subscription is listed.",
        ),
    )

    @classmethod
    def validate(cls, config: SourceConfig) -> SourceConfig:
        ids: list[str] = []
        for value in config.subscription_ids:
            value = value.strip().lower()
            if not value:
                continue
            if not GUID.match(value):
                raise ValidationFailed(f"Subscriptions: {value[:40]!r} is not a subscription id (a GUID).")
            if value not in ids:
                ids.append(value)
        if len(ids) > MAX_SUBSCRIPTIONS:
            raise ValidationFailed(
                f"Subscriptions: at most {MAX_SUBSCRIPTIONS}; register another source, or leave empty for the whole tenant."
            )
        tenant = (config.tenant_id or "").strip().lower()
        if tenant and not GUID.match(tenant):
            raise ValidationFailed("Tenant: expected the tenant (directory) id, a GUID.")
        if not ids and not tenant:
            raise ValidationFailed("Tenant: give the tenant id to collect every subscription, or list the subscriptions.")
        return SourceConfig(kind=cls.kind.value, subscription_ids=tuple(sorted(ids)), tenant_id=tenant)

    @classmethod
    def source_key(cls, config: SourceConfig) -> str:
        return ",".join(config.subscription_ids) if config.subscription_ids else f"tenant:{config.tenant_id}"

    @classmethod
    def location(cls, config: SourceConfig) -> str:
        if config.subscription_ids:
            return "subscriptions " + ", ".join(config.subscription_ids)
        return f"every readable subscription of tenant {config.tenant_id}"


@contextmanager
def arm_errors(where: str) -> Iterator[None]:
    """SDK and transport exceptions as ConnectorError codes, naming ``where``."""
    try:
        yield
    except ConnectorError:
        raise
    except Exception as exc:
        mapped = to_connector_error(exc, "\x00")
        if mapped is None:
            raise
        message = str(mapped).replace("Key Vault \x00", f"Resource Manager {where}").replace("not a vault endpoint", "not found")
        raise ConnectorError(message, code=mapped.code, retryable=mapped.retryable) from exc


def _text(value: Any, limit: int = NAME_MAX) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _flag(value: Any, label: str, bad: list[str]) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    bad.append(label)
    return None


def vault_facts(item: dict[str, Any], subscription_id: str) -> tuple[dict[str, Any], list[str]]:
    """The vault-level facts of one ARM vault resource, and the labels of unreadable fields.

    A flag ARM leaves out is read as its service default: purge protection off, public network
    access enabled (both fail the rule rather than pass it); soft delete left out is unknown."""
    bad: list[str] = []
    props = item.get("properties")
    if not isinstance(props, dict):
        bad.append("properties")
        props = {}
    soft_delete = _flag(props.get("enableSoftDelete"), "enableSoftDelete", bad)
    purge = _flag(props.get("enablePurgeProtection"), "enablePurgeProtection", bad)
    rbac = _flag(props.get("enableRbacAuthorization"), "enableRbacAuthorization", bad)
    public = props.get("publicNetworkAccess", "Enabled")
    if not isinstance(public, str):
        bad.append("publicNetworkAccess")
        public = None
    acls = props.get("networkAcls")
    default_action: str | None = None
    if isinstance(acls, dict) and isinstance(acls.get("defaultAction"), str):
        default_action = acls["defaultAction"]
    elif acls is not None and not isinstance(acls, dict):
        bad.append("networkAcls")
    retention = props.get("softDeleteRetentionInDays")
    if retention is not None and (isinstance(retention, bool) or not isinstance(retention, int)):
        bad.append("softDeleteRetentionInDays")
        retention = None
    readers: list[str] | None = []
    policies = props.get("accessPolicies", [])
    if not isinstance(policies, list):
        bad.append("accessPolicies")
        readers = None
    else:
        for entry in policies:
            permissions = entry.get("permissions") if isinstance(entry, dict) else None
            secrets = permissions.get("secrets") if isinstance(permissions, dict) else None
            object_id = entry.get("objectId") if isinstance(entry, dict) else None
            if not isinstance(secrets, list) or not isinstance(object_id, str):
                bad.append("accessPolicies")
                readers = None
                break
            granted = {str(p).lower() for p in secrets}
            if ("get" in granted or "all" in granted) and readers is not None and object_id not in readers:
                readers.append(object_id[:80])
    tags = item.get("tags")
    facts = {
        "vault_name": _text(item.get("name")),
        "arm_id": _text(item.get("id"), 500),
        "subscription_id": subscription_id,
        "location": _text(item.get("location"), 60),
        "soft_delete": soft_delete,
        "soft_delete_retention_days": retention,
        "purge_protection": None if "enablePurgeProtection" in bad else bool(purge),
        "rbac_authorization": rbac,
        "public_network_access": public,
        "network_default_action": default_action,
        "access_policy_count": len(policies) if isinstance(policies, list) else None,
        "secret_get_principals": readers,
        "tags": {str(k)[:200]: "" if v is None else str(v)[:500] for k, v in tags.items()} if isinstance(tags, dict) else {},
        "unreadable": sorted(set(bad)),
    }
    return facts, bad


# Built-in roles whose data actions include reading secret values; role definition ids are the
# same GUIDs in every tenant.
SECRET_READ_ROLES = {
    "4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User",
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7": "Key Vault Secrets Officer",
    "00482a5a-887f-4fb3-b363-3b7fe8e74483": "Key Vault Administrator",
}
AUDIT_CATEGORY_GROUPS = frozenset({"audit", "alllogs"})
_DESTINATIONS = ("workspaceId", "storageAccountId", "eventHubAuthorizationRuleId", "marketplacePartnerId")


def _covers(scope: str, resource_id: str) -> bool:
    """Does a role assignment at ``scope`` apply to ``resource_id`` (inherited down the tree)?"""
    scope, resource_id = scope.lower().rstrip("/"), resource_id.lower()
    if not scope or scope.startswith("/providers/microsoft.management/managementgroups/"):
        return True  # the root or a management group above every subscription
    return resource_id == scope or resource_id.startswith(scope + "/")


def _secret_roles(session: Any, subscription_id: str, vaults: list[dict[str, Any]], result: CollectionResult) -> None:
    """Each vault's principals holding a secret-reading role at its scope or above
    (``rbac_secret_readers``: [{principal_id, role, scope}]; ``None`` when unreadable, recorded)."""
    try:
        with arm_errors(f"role assignments of subscription {subscription_id}"):
            assignments = list(session.client(subscription_id, "authorization").role_assignments.list_for_subscription())
    except ConnectorError as exc:
        result.add_error("role_assignments_unreadable", f"{exc}; who may read secrets through Azure RBAC is unknown", subscription_id)
        for vault in vaults:
            vault["facts"]["rbac_secret_readers"] = None
        return
    grants: list[tuple[str, str, str]] = []
    for assignment in assignments:
        role_id = str(getattr(assignment, "role_definition_id", "") or "").rsplit("/", 1)[-1].lower()
        principal = getattr(assignment, "principal_id", None)
        scope = getattr(assignment, "scope", None)
        if role_id in SECRET_READ_ROLES:
            if not isinstance(principal, str) or not isinstance(scope, str):
                result.add_error(
                    "malformed_item", "a role assignment without principal or scope; skipped", str(getattr(assignment, "id", ""))[:300]
                )
                continue
            grants.append((principal[:80], SECRET_READ_ROLES[role_id], scope[:500]))
    for vault in vaults:
        arm_id = vault["facts"].get("arm_id") or ""
        vault["facts"]["rbac_secret_readers"] = [
            {"principal_id": principal, "role": role, "scope": scope}
            for principal, role, scope in grants
            if arm_id and _covers(scope, arm_id)
        ]


def _audit_logging(session: Any, subscription_id: str, vaults: list[dict[str, Any]], result: CollectionResult) -> None:
    """Each vault's diagnostic settings sending its AuditEvent logs somewhere (``audit_log_destinations``:
    setting names; ``None`` when unreadable, recorded)."""
    for vault in vaults:
        facts = vault["facts"]
        arm_id = facts.get("arm_id") or ""
        if not arm_id.lower().startswith(f"/subscriptions/{subscription_id}/resourcegroups/"):
            facts["audit_log_destinations"] = None
            result.add_error(
                "diagnostics_unreadable", f"vault {vault['name']}: no usable resource id to read its diagnostic settings", vault["key"]
            )
            continue
        try:
            with arm_errors(f"diagnostic settings of vault {vault['name']}"):
                settings = session.list_diagnostic_settings(subscription_id, arm_id)
        except ConnectorError as exc:
            facts["audit_log_destinations"] = None
            result.add_error("diagnostics_unreadable", f"{exc}; whether its audit logs are kept is unknown", vault["key"])
            continue
        sending: list[str] = []
        for setting in settings:
            props = setting.get("properties") if isinstance(setting, dict) else None
            if not isinstance(props, dict):
                result.add_error("malformed_item", f"vault {vault['name']}: a diagnostic setting without properties; skipped", vault["key"])
                continue
            logs = props.get("logs")
            logs = logs if isinstance(logs, list) else []
            audited = any(
                isinstance(log, dict)
                and log.get("enabled") is True
                and (log.get("category") == "AuditEvent" or str(log.get("categoryGroup") or "").lower() in AUDIT_CATEGORY_GROUPS)
                for log in logs
            )
            if audited and any(isinstance(props.get(k), str) and props.get(k) for k in _DESTINATIONS):
                sending.append(_text(setting.get("name")) or "(unnamed)")
        facts["audit_log_destinations"] = sending


class SubscriptionConnector(Connector):
    """Discovers the Key Vaults of one or several subscriptions and returns them as member sources."""

    kind = "azure_subscription"
    source = AzureSubscription
    discovers = True
    provides_source_facts = True  # the vault list and each vault's facts are what rules read

    @classmethod
    def targets(cls, config: SourceConfig) -> list[Target]:
        return [
            Target(
                kind=cls.kind,
                source_key=AzureSubscription.source_key(config),
                subscription_ids=config.subscription_ids,
                tenant_id=config.tenant_id,
            )
        ]

    def collect(self, target: Target, *, previous_state: dict | None = None) -> CollectionResult:
        result = CollectionResult(target=target)
        subscriptions: list[dict[str, Any]] = []
        not_assessed: list[dict[str, str]] = []
        vaults: list[dict[str, Any]] = []
        with arm_session(result.api_calls) as session:
            if target.subscription_ids:
                subscriptions = [{"id": sid, "name": sid, "state": "Enabled"} for sid in target.subscription_ids]
            else:
                with arm_errors(f"subscription listing of tenant {target.tenant_id}"):
                    for entry in session.list_subscriptions():
                        sid = entry.get("subscriptionId") if isinstance(entry, dict) else None
                        if not isinstance(sid, str) or not GUID.match(sid):
                            result.add_error("malformed_response", "a subscription entry has no usable subscriptionId", repr(entry)[:200])
                            continue
                        if str(entry.get("tenantId") or "").lower() != target.tenant_id:
                            continue
                        subscriptions.append(
                            {"id": sid.lower(), "name": _text(entry.get("displayName")) or sid, "state": str(entry.get("state"))[:40]}
                        )
            for subscription in subscriptions:
                sid = subscription["id"]
                if subscription["state"] not in READABLE_STATES:
                    reason = f"the subscription's state is {subscription['state']}: its resources cannot be read"
                    not_assessed.append({"what": "subscription", "id": sid, "name": subscription["name"], "reason": reason})
                    continue
                try:
                    with arm_errors(f"vault listing of subscription {sid}"):
                        items = list(session.client(sid).vaults.list_by_subscription())
                except ConnectorError as exc:
                    cause = exc.__cause__
                    status = cause.status_code if isinstance(cause, HttpResponseError) else None
                    if status == 404:
                        reason = (
                            "Resource Manager answered 404: no such subscription (check the id), or it is not in this identity's tenant"
                        )
                    elif status == 403:
                        reason = "Resource Manager answered 403: this identity may not read the subscription's vaults (grant it Reader)"
                    else:
                        raise
                    not_assessed.append({"what": "subscription", "id": sid, "name": subscription["name"], "reason": reason})
                    continue
                found = [self._vault(item.as_dict() if hasattr(item, "as_dict") else item, sid, result) for item in items]
                listed = [vault for vault in found if vault is not None]
                if listed:
                    _secret_roles(session, sid, listed, result)
                    _audit_logging(session, sid, listed, result)
                vaults += listed
        for entry in not_assessed:
            result.add_error("subscription_not_assessed", f"subscription {entry['name']} ({entry['id']}): {entry['reason']}", entry["id"])

        by_key = {v["key"]: v for v in vaults}
        previous = (previous_state or {}).get("vaults") or {}
        for key, vault in by_key.items():
            vault["event"] = "" if key in previous else "appeared"
        skipped = {e["id"] for e in not_assessed}
        left = [
            {"key": key, "name": str(before.get("name") or ""), "subscription_id": str(before.get("subscription_id") or "")}
            for key, before in previous.items()
            if key not in by_key and before.get("subscription_id") not in skipped
        ]
        entries = sorted(by_key.values(), key=lambda v: (v["name"].casefold(), v["key"]))
        result.members = [
            MemberSource(
                source_key=v["key"], name=v["name"], config=SourceConfig(kind=SourceKind.AZURE_KEY_VAULT.value, vault_url=v["key"])
            )
            for v in entries
        ]
        result.facts = {
            "tenant_id": target.tenant_id,
            "subscriptions": [{"id": s["id"], "name": s["name"], "state": s["state"]} for s in subscriptions],
            "vaults": [{k: v[k] for k in ("key", "name", "subscription_id", "event")} for v in entries],
            "left": left,
            "not_assessed": not_assessed,
            "member_facts": {v["key"]: v["facts"] for v in entries},
            "counts": {"subscriptions": len(subscriptions), "vaults": len(entries), "not_assessed": len(not_assessed)},
        }
        # A subscription not read this time keeps its vaults in the state: they are not "gone".
        kept = {key: before for key, before in previous.items() if before.get("subscription_id") in skipped}
        # Names from Resource Manager are in the messages and the state: keep them storable (no NUL,
        # no lone surrogate), as the apply step keeps the facts.
        result.errors = [storable_tree(error) for error in result.errors]
        vault_state = {v["key"]: {"name": v["name"], "subscription_id": v["subscription_id"]} for v in entries}
        result.state = storable_tree({"vaults": {**kept, **vault_state}})
        return result

    @staticmethod
    def _vault(item: Any, subscription_id: str, result: CollectionResult) -> dict[str, Any] | None:
        if not isinstance(item, dict):
            result.add_error("malformed_item", "a vault entry is not an object; skipped", repr(item)[:200])
            return None
        name = _text(item.get("name"))
        props = item.get("properties") if isinstance(item.get("properties"), dict) else {}
        uri = props.get("vaultUri") if isinstance(props, dict) else None
        label = name or _text(item.get("id"), 300) or "(no name)"
        try:
            key = KeyVault.validate(
                SourceConfig(kind=SourceKind.AZURE_KEY_VAULT.value, vault_url=uri if isinstance(uri, str) else "")
            ).vault_url
        except ValidationFailed:
            result.add_error(
                "malformed_item", f"vault {label} in subscription {subscription_id} has no usable https vaultUri; skipped", label
            )
            return None
        facts, bad = vault_facts(item, subscription_id)
        if bad:
            result.add_error("malformed_item", f"vault {label}: unreadable {', '.join(sorted(set(bad)))}; kept as unknown", key)
        return {"key": key, "name": name or key, "subscription_id": subscription_id, "facts": facts}
