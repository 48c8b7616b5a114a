"""Entra ID connector: the client secrets and certificate credentials of a tenant's application
registrations and service principals, with their owners. Metadata only.

Calls (Microsoft Graph v1.0, through :mod:`apps.connectors.azure.entra.client`):

* ``GET /v1.0/applications?$select=...&$expand=owners(...)&$top=100`` — every app registration
  with its ``passwordCredentials`` (client secrets), ``keyCredentials`` (certificates) and owners.
* ``GET /v1.0/servicePrincipals?$select=...&$expand=owners(...)&$top=100`` — every service
  principal; only those holding credentials of their own become identities (a tenant has
  thousands of Microsoft first-party principals with none).

Owners come with each page through ``$expand`` (one call per 100 applications instead of one
``/applications/{id}/owners`` call per application); Graph expands at most 20 owners per
object, which is enough to say "has an owner" and to name the reviewers.

Graph returns a client secret's ``hint`` (its first characters) and a ``secretText`` that is
always null on reads. Neither is kept: each credential is rebuilt from the named fields below,
so nothing else Graph sends can reach the inventory.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from apps.connectors.azure.entra.client import graph_client, graph_errors
from apps.connectors.azure.entra.source import DEFAULT_GRAPH_URL, EntraTenant
from apps.connectors.base import (
    CollectionResult,
    Connector,
    ConnectorError,
    CredentialRecord,
    IdentityRecord,
    SourceConfig,
    Target,
)
from apps.connectors.kinds import CredentialKind, IdentityKind

PAGE_SIZE = "100"
OWNER_FIELDS = "id,displayName,userPrincipalName,mail,appId"
APPLICATION_FIELDS = "id,appId,displayName,createdDateTime,passwordCredentials,keyCredentials"
SERVICE_PRINCIPAL_FIELDS = (
    "id,appId,displayName,appOwnerOrganizationId,accountEnabled,servicePrincipalType,passwordCredentials,keyCredentials"
)
APPLICATION, SERVICE_PRINCIPAL = "application", "service principal"


class EntraConnector(Connector):
    """Collects one Entra ID tenant (``target.graph_tenant_id``) from ``target.graph_url``."""

    kind = "entra_id"
    source = EntraTenant
    credential_kinds = (CredentialKind.ENTRA_CLIENT_SECRET, CredentialKind.ENTRA_CERTIFICATE)
    identity_kinds = (IdentityKind.SERVICE,)

    @classmethod
    def targets(cls, config: SourceConfig) -> list[Target]:
        """One unit: the tenant."""
        return [
            Target(
                kind=cls.kind,
                source_key=config.graph_tenant_id,
                graph_tenant_id=config.graph_tenant_id,
                graph_url=config.graph_url or DEFAULT_GRAPH_URL,
            )
        ]

    def collect(self, target: Target, *, previous_state: dict | None = None) -> CollectionResult:
        """Return one identity per application (and per service principal holding credentials)
        and one ``entra_client_secret`` / ``entra_certificate`` record per credential.

        Raises ConnectorError: ``auth_refused`` (no token, 401, 403 without Application.Read.All),
        ``throttled`` (429 beyond retries, each wait bounded by AZURE_RETRY_AFTER_MAX),
        ``unreachable``, ``server_error``, ``not_found``, ``tls_error``, ``malformed_response``
        (a page without a ``value`` list, a paging loop, a next link to another host) or
        ``bad_target``. A malformed application or credential is an item error instead.
        """
        graph_url = (target.graph_url or DEFAULT_GRAPH_URL).strip().rstrip("/")
        tenant = target.graph_tenant_id or target.source_key
        if not graph_url.lower().startswith("https://"):
            raise ConnectorError(f"not an https Graph endpoint: {graph_url!r}", code="bad_target")
        result = CollectionResult(target=target)
        with graph_errors(graph_url), graph_client(graph_url, tenant, api_calls=result.api_calls) as client:
            for page in client.pages(
                "/v1.0/applications",
                {"$select": APPLICATION_FIELDS, "$expand": f"owners($select={OWNER_FIELDS})", "$top": PAGE_SIZE},
            ):
                for raw in page:
                    _add_object(raw, APPLICATION, tenant, result)
            for page in client.pages(
                "/v1.0/servicePrincipals",
                {"$select": SERVICE_PRINCIPAL_FIELDS, "$expand": f"owners($select={OWNER_FIELDS})", "$top": PAGE_SIZE},
            ):
                for raw in page:
                    _add_object(raw, SERVICE_PRINCIPAL, tenant, result)
        result.facts = {
            "applications": sum(1 for i in result.identities if i.attributes["object_type"] == APPLICATION),
            "service_principals_with_credentials": sum(1 for i in result.identities if i.attributes["object_type"] == SERVICE_PRINCIPAL),
        }
        return result


# --------------------------------------------------------------------------- records


def _add_object(raw: Any, object_type: str, tenant: str, result: CollectionResult) -> None:
    """Append ``raw`` (an application or service principal) and its credentials to ``result``."""
    what = "application" if object_type == APPLICATION else "service principal"
    if not isinstance(raw, dict):
        result.add_error("malformed_item", f"{what} entry is not an object: {type(raw).__name__}")
        return
    object_id = raw.get("id")
    if not isinstance(object_id, str) or not object_id.strip():
        result.add_error("malformed_item", f"{what} without an id; skipped", _text(raw.get("displayName")))
        return
    collection = "applications" if object_type == APPLICATION else "servicePrincipals"
    identity_id = f"{collection}/{object_id}"
    passwords, keys = raw.get("passwordCredentials"), raw.get("keyCredentials")
    unreadable = [name for name, value in (("passwordCredentials", passwords), ("keyCredentials", keys)) if not isinstance(value, list)]
    for name in unreadable:
        result.add_error("malformed_item", f"{what} has no readable {name} list", identity_id)
    passwords = passwords if isinstance(passwords, list) else []
    keys = keys if isinstance(keys, list) else []
    if object_type == SERVICE_PRINCIPAL and not passwords and not keys and not unreadable:
        return  # a principal with no credentials of its own: nothing to judge, nothing to review

    owners, owners_known = _owners(raw.get("owners"), identity_id, result)
    owner_org = raw.get("appOwnerOrganizationId") if object_type == SERVICE_PRINCIPAL else tenant
    owner_org = owner_org.strip().lower() if isinstance(owner_org, str) and owner_org.strip() else None
    attributes: dict[str, Any] = {
        "object_type": object_type,
        "app_id": _text(raw.get("appId")),
        "app_owner_organization_id": owner_org,
        "foreign_tenant": (owner_org != tenant) if owner_org else None,
        "owners": owners,
        "owner_count": len(owners) if owners_known else None,
        "tenant_id": tenant,
    }
    if unreadable:
        attributes["malformed_fields"] = unreadable
    enabled: bool | None = True  # an application's credentials cannot be switched off; only removed
    if object_type == SERVICE_PRINCIPAL:
        enabled = raw.get("accountEnabled") if isinstance(raw.get("accountEnabled"), bool) else None
        attributes["service_principal_type"] = _text(raw.get("servicePrincipalType"))
    name = _text(raw.get("displayName")) or _text(raw.get("appId")) or object_id
    created, bad = _date(raw.get("createdDateTime")) if object_type == APPLICATION else (None, False)
    if bad:
        result.add_error("malformed_date", f"{what} createdDateTime unreadable: {_text(raw.get('createdDateTime'))[:60]}", identity_id)
    result.identities.append(
        IdentityRecord(external_id=identity_id, name=name, kind=IdentityKind.SERVICE.value, created_at=created, attributes=attributes)
    )
    shared = {k: attributes[k] for k in ("object_type", "app_id", "app_owner_organization_id", "foreign_tenant", "owners", "owner_count")}
    for entry in passwords:
        _add_credential(entry, CredentialKind.ENTRA_CLIENT_SECRET, "passwordCredentials", identity_id, enabled, shared, result)
    for entry in keys:
        _add_credential(entry, CredentialKind.ENTRA_CERTIFICATE, "keyCredentials", identity_id, enabled, shared, result)


def _add_credential(
    entry: Any,
    kind: CredentialKind,
    collection: str,
    identity_id: str,
    enabled: bool | None,
    shared: dict[str, Any],
    result: CollectionResult,
) -> None:
    if not isinstance(entry, dict):
        result.add_error("malformed_item", f"{collection} entry is not an object", identity_id)
        return
    key_id = entry.get("keyId")
    if not isinstance(key_id, str) or not key_id.strip():
        result.add_error("malformed_item", f"{collection} entry without a keyId; skipped", identity_id)
        return
    external_id = f"{identity_id}/{collection}/{key_id.strip()}"
    attributes = {**shared, "key_id": key_id.strip()}
    malformed = []
    start, bad_start = _date(entry.get("startDateTime"))
    end, bad_end = _date(entry.get("endDateTime"))
    for field, bad, value in (("startDateTime", bad_start, entry.get("startDateTime")), ("endDateTime", bad_end, entry.get("endDateTime"))):
        if bad:
            malformed.append(field)
            result.add_error("malformed_date", f"{field} unreadable: {_text(value)[:60]}", external_id)
    if kind == CredentialKind.ENTRA_CERTIFICATE:
        attributes["key_type"] = _text(entry.get("type"))
        attributes["usage"] = _text(entry.get("usage"))
    if malformed:
        attributes["malformed_fields"] = malformed
    # Only these fields are read: ``hint``, ``secretText``, ``key`` and anything else Graph
    # adds never leave this function.
    result.credentials.append(
        CredentialRecord(
            external_id=external_id,
            credential_type=kind.value,
            name=_text(entry.get("displayName")) or key_id.strip(),
            identity_external_id=identity_id,
            enabled=enabled,
            created_at=start,
            not_before=start,
            expires_at=end,
            attributes=attributes,
        )
    )


def _owners(raw: Any, identity_id: str, result: CollectionResult) -> tuple[list[str], bool]:
    """(owner names, known): users first (their mail, else user principal name), then other
    owners as ``"<type>: <display name>"``. ``known`` is False when Graph sent no owners list."""
    if raw is None:
        result.add_error("missing_field", "owners not returned; owner unknown", identity_id)
        return [], False
    if not isinstance(raw, list):
        result.add_error("malformed_item", "owners is not a list; owner unknown", identity_id)
        return [], False
    users, others = [], []
    for owner in raw:
        if not isinstance(owner, dict):
            continue
        odata_type = _text(owner.get("@odata.type")).rsplit(".", 1)[-1]
        login = _text(owner.get("mail")) or _text(owner.get("userPrincipalName"))
        if odata_type in ("user", "") and login:
            users.append(login)
        else:
            label = _text(owner.get("displayName")) or _text(owner.get("appId")) or _text(owner.get("id"))
            others.append(f"{odata_type or 'owner'}: {label}")
    return users + others, True


def _date(value: Any) -> tuple[datetime | None, bool]:
    """(date, malformed): ``None, False`` when absent; an aware datetime, or ``None, True``."""
    if value is None:
        return None, False
    if not isinstance(value, str):
        return None, True
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None, True
    if parsed.tzinfo is None:
        return None, True  # Graph's dates are always UTC with "Z"; a bare one is not Graph's
    return parsed, False


def _text(value: Any) -> str:
    """``value`` when Graph sent text, else "" (stored as sent; the inventory normalises NULs)."""
    return value if isinstance(value, str) else ""
