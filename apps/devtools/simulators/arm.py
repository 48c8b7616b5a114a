"""A local Azure Resource Manager (subscriptions and Key Vault resources) for tests and the demo.

No Resource Manager emulator exists in any registry we can reach, so this module speaks just
enough of the REST API over real HTTPS for the unmodified ``azure-mgmt-keyvault`` client (and
its pipeline, which keytrail also uses for the subscription listing) to talk to it:

* ``GET /subscriptions`` — the subscriptions the identity can read, paged by an absolute
  ``nextLink``;
* ``GET /subscriptions/{id}/providers/Microsoft.KeyVault/vaults`` — the subscription's vaults
  (``$top`` page size), paged the same way; an unknown subscription answers 404
  ``SubscriptionNotFound`` as ARM does, a subscription the identity may not read 403
  ``AuthorizationFailed``;
* ``GET /subscriptions/{id}/providers/Microsoft.Authorization/roleAssignments`` — the
  subscription's role assignments (every scope in it), paged (azure-mgmt-authorization);
* ``GET {vault id}/providers/Microsoft.Insights/diagnosticSettings`` — a vault's diagnostic
  settings (azure-mgmt-monitor).

Every request must carry a bearer token (401 otherwise). Anything else (a write, a vault's
keys or secrets through ARM) is refused with 403 and recorded in :attr:`ArmSimulator.violations`;
tests assert that list stays empty. The server shares the Key Vault simulator's self-signed
certificate and TLS server (:mod:`apps.devtools.simulators.key_vault`), so one CA file trusts
both and :class:`~apps.devtools.simulators.key_vault.SimulatorCredential` serves both.

Typical use::

    arm = ArmSimulator().start()
    arm.add_subscription(SUB, display_name="prod")
    arm.add_vault(SUB, "payments", vault_url=vault.url, purge_protection=False)
    arm.throttle(times=2, retry_after=0.1, only="vaults")
"""

from __future__ import annotations

import json
import re
import ssl
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

from apps.devtools.simulators.key_vault import DEFAULT_TENANT_ID, _tls_context, _VaultServer, certificate_paths

DEFAULT_PAGE_SIZE = 10
_VAULTS_PATH = re.compile(r"^/subscriptions/([^/]+)/providers/Microsoft\.KeyVault/vaults/?$", re.IGNORECASE)
_SUBSCRIPTIONS_PATH = re.compile(r"^/subscriptions/?$")
_ROLE_ASSIGNMENTS_PATH = re.compile(r"^/subscriptions/([^/]+)/providers/Microsoft\.Authorization/roleAssignments/?$", re.IGNORECASE)
_DIAGNOSTICS_PATH = re.compile(
    r"^/subscriptions/([^/]+)/resourceGroups/[^/]+/providers/Microsoft\.KeyVault/vaults/([^/]+)/providers/"
    r"Microsoft\.Insights/diagnosticSettings/?$",
    re.IGNORECASE,
)
# Built-in roles whose data actions read secrets (their role definition ids are the same in every tenant).
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
KEY_VAULT_SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
KEY_VAULT_ADMINISTRATOR = "00482a5a-887f-4fb3-b363-3b7fe8e74483"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"


class RequestRecord(NamedTuple):
    method: str
    path: str
    status: int


class Violation(NamedTuple):
    method: str
    path: str
    reason: str


@dataclass
class _Subscription:
    subscription_id: str
    display_name: str
    tenant_id: str
    state: str = "Enabled"
    readable: bool = True  # False: the identity may list it but not read its resources (403)
    vaults: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> ARM resource JSON
    role_assignments: list[Any] | None = field(default_factory=list)  # None: 403 (no Microsoft.Authorization read)
    diagnostics: dict[str, list[Any] | None] = field(default_factory=dict)  # vault name -> settings; None: 403


@dataclass
class _Fault:
    kind: str  # throttle | fail | malformed
    times: int | None
    only: str  # any | subscriptions | vaults
    retry_after: float = 1
    status: int = 500


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def vault_resource(
    subscription_id: str,
    name: str,
    *,
    vault_url: str,
    resource_group: str = "rg-keytrail",
    location: str = "westeurope",
    tenant_id: str = DEFAULT_TENANT_ID,
    tags: dict[str, Any] | None = None,
    soft_delete: bool | None = True,
    soft_delete_retention_days: int | None = 90,
    purge_protection: bool | None = True,
    rbac_authorization: bool | None = False,
    public_network_access: str | None = "Disabled",
    network_default_action: str | None = "Deny",
    secret_get_principals: tuple[str, ...] = (),
    other_principals: tuple[str, ...] = (),
) -> dict[str, Any]:
    """A vault as ``GET .../vaults`` lists it. ``None`` leaves a property out, as ARM does for
    unset ones; ``secret_get_principals`` get ``secrets: [get, list]``, ``other_principals``
    only ``list``."""
    properties: dict[str, Any] = {
        "tenantId": tenant_id,
        "sku": {"family": "A", "name": "standard"},
        "vaultUri": vault_url.rstrip("/") + "/",
        "accessPolicies": [
            {"tenantId": tenant_id, "objectId": oid, "permissions": {"secrets": ["get", "list"], "keys": [], "certificates": []}}
            for oid in secret_get_principals
        ]
        + [
            {"tenantId": tenant_id, "objectId": oid, "permissions": {"secrets": ["list"], "keys": ["get"], "certificates": []}}
            for oid in other_principals
        ],
    }
    optional = {
        "enableSoftDelete": soft_delete,
        "softDeleteRetentionInDays": soft_delete_retention_days,
        "enablePurgeProtection": purge_protection,
        "enableRbacAuthorization": rbac_authorization,
        "publicNetworkAccess": public_network_access,
    }
    properties.update({k: v for k, v in optional.items() if v is not None})
    if network_default_action is not None:
        properties["networkAcls"] = {
            "defaultAction": network_default_action,
            "bypass": "AzureServices",
            "ipRules": [],
            "virtualNetworkRules": [],
        }
    return {
        "id": f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/Microsoft.KeyVault/vaults/{name}",
        "name": name,
        "type": "Microsoft.KeyVault/vaults",
        "location": location,
        "tags": tags or {},
        "properties": properties,
    }


class ArmSimulator:
    """Resource Manager on 127.0.0.1 over HTTPS: subscriptions and their vaults, with faults."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, default_page_size: int = DEFAULT_PAGE_SIZE) -> None:
        self.host = host
        self.default_page_size = default_page_size
        self.name = "arm"
        self._requested_port = port
        self.port: int | None = None
        self._lock = threading.Lock()
        self._server: _VaultServer | None = None
        self._thread: threading.Thread | None = None
        self._subscriptions: dict[str, _Subscription] = {}
        self._faults: list[_Fault] = []
        self._requests: list[RequestRecord] = []
        self._violations: list[Violation] = []

    # lifecycle ------------------------------------------------------------------------

    def start(self) -> ArmSimulator:
        if self._server is not None:
            return self
        self._server = _VaultServer((self.host, self._requested_port), self, _tls_context())  # type: ignore[arg-type]
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="arm-simulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> ArmSimulator:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the simulator has not been started")
        return f"https://{self.host}:{self.port}"

    @property
    def ca_path(self) -> str:
        return certificate_paths()[0]

    @property
    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._requests)

    @property
    def violations(self) -> list[Violation]:
        with self._lock:
            return list(self._violations)

    # state ----------------------------------------------------------------------------

    def add_subscription(
        self,
        subscription_id: str,
        *,
        display_name: str = "",
        tenant_id: str = DEFAULT_TENANT_ID,
        state: str = "Enabled",
        readable: bool = True,
    ) -> None:
        with self._lock:
            self._subscriptions[subscription_id] = _Subscription(
                subscription_id, display_name or subscription_id, tenant_id, state, readable
            )

    def add_vault(self, subscription_id: str, name: str, *, vault_url: str, **properties: Any) -> dict[str, Any]:
        """Add (or replace) a vault; keyword arguments as :func:`vault_resource`."""
        resource = vault_resource(subscription_id, name, vault_url=vault_url, **properties)
        with self._lock:
            self._subscriptions[subscription_id].vaults[name] = resource
        return resource

    def add_raw_vault(self, subscription_id: str, key: str, item: Any) -> None:
        """List ``item`` verbatim among the subscription's vaults (malformed answers)."""
        with self._lock:
            self._subscriptions[subscription_id].vaults[key] = item

    def add_role_assignment(
        self, subscription_id: str, principal_id: str, role: str, *, scope: str = "", principal_type: str = "User"
    ) -> None:
        """Assign built-in role ``role`` (a role definition GUID) to ``principal_id`` at ``scope``
        (default: the subscription; a vault's ARM id for that vault only)."""
        scope = scope or f"/subscriptions/{subscription_id}"
        with self._lock:
            assignments = self._subscriptions[subscription_id].role_assignments
            if assignments is None:
                assignments = self._subscriptions[subscription_id].role_assignments = []
            assignments.append(
                {
                    "id": f"{scope}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}",
                    "name": str(uuid.uuid4()),
                    "type": "Microsoft.Authorization/roleAssignments",
                    "properties": {
                        "roleDefinitionId": f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{role}",
                        "principalId": principal_id,
                        "principalType": principal_type,
                        "scope": scope,
                    },
                }
            )

    def refuse_role_assignments(self, subscription_id: str) -> None:
        """Answer 403 to the subscription's role assignment listing."""
        with self._lock:
            self._subscriptions[subscription_id].role_assignments = None

    def set_diagnostics(self, subscription_id: str, vault: str, settings: list[Any] | None) -> None:
        """The vault's diagnostic settings as listed (raw JSON items); ``None``: 403."""
        with self._lock:
            self._subscriptions[subscription_id].diagnostics[vault] = settings

    def send_audit_logs(self, subscription_id: str, vault: str, *, enabled: bool = True, category_group: str = "") -> None:
        """A diagnostic setting sending the vault's AuditEvent logs (or a category group) to a workspace."""
        log = {"categoryGroup": category_group, "enabled": enabled} if category_group else {"category": "AuditEvent", "enabled": enabled}
        self.set_diagnostics(
            subscription_id,
            vault,
            [
                {
                    "id": f"/subscriptions/{subscription_id}/.../diagnosticSettings/to-sentinel",
                    "name": "to-sentinel",
                    "properties": {
                        "workspaceId": f"/subscriptions/{subscription_id}/resourceGroups/rg-logs/providers/Microsoft.OperationalInsights/workspaces/sentinel",
                        "logs": [log],
                        "metrics": [],
                    },
                }
            ],
        )

    def remove_vault(self, subscription_id: str, name: str) -> None:
        with self._lock:
            self._subscriptions[subscription_id].vaults.pop(name, None)

    # faults ---------------------------------------------------------------------------

    def throttle(self, *, times: int | None = 1, retry_after: float = 1, only: str = "any") -> None:
        with self._lock:
            self._faults.append(_Fault("throttle", times, only, retry_after=retry_after))

    def fail(self, *, times: int | None = 1, status: int = 500, only: str = "any") -> None:
        with self._lock:
            self._faults.append(_Fault("fail", times, only, status=status))

    def malformed_json(self, *, times: int | None = 1, only: str = "any") -> None:
        with self._lock:
            self._faults.append(_Fault("malformed", times, only))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _take_fault(self, route: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.only in ("any", route):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self._faults.remove(fault)
                    return fault
        return None

    # serving --------------------------------------------------------------------------

    def _handle(self, h: Any) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        if length:
            h.rfile.read(length)
        parts = urlsplit(h.path)
        path = parts.path
        query = parse_qs(parts.query)
        if not (h.headers.get("Authorization") or "").startswith("Bearer "):
            self._send(h, path, 401, _error("AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing."))
            return
        vaults_match = _VAULTS_PATH.match(path)
        roles_match = _ROLE_ASSIGNMENTS_PATH.match(path)
        diagnostics_match = _DIAGNOSTICS_PATH.match(path)
        if h.command != "GET" or not (vaults_match or roles_match or diagnostics_match or _SUBSCRIPTIONS_PATH.match(path)):
            with self._lock:
                self._violations.append(Violation(h.command, path, "keytrail only lists subscriptions and vaults"))
            self._send(h, path, 403, _error("AuthorizationFailed", "The simulator refuses everything but listings."))
            return
        if not query.get("api-version"):
            self._send(h, path, 400, _error("MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required."))
            return
        route = "vaults" if vaults_match else "roles" if roles_match else "diagnostics" if diagnostics_match else "subscriptions"
        fault = self._take_fault(route)
        if fault is not None:
            if fault.kind == "throttle":
                self._send(h, path, 429, _error("TooManyRequests", "Throttled."), headers={"Retry-After": f"{fault.retry_after:g}"})
                return
            if fault.kind == "fail":
                self._send(h, path, fault.status, _error("InternalServerError", "Simulated failure."))
                return
            self._send(h, path, 200, b'{"value": [ {"id": ', raw=True)
            return
        try:
            skip = max(0, int((query.get("$skiptoken") or ["0"])[0]))
            top = int((query.get("$top") or [str(self.default_page_size)])[0])
        except ValueError:
            self._send(h, path, 400, _error("InvalidQueryParameterValue", "Bad $skiptoken or $top."))
            return
        top = max(1, min(top, self.default_page_size))
        with self._lock:
            if roles_match or diagnostics_match:
                status, body = self._extras(roles_match, diagnostics_match, skip, top, h, parts)
            elif vaults_match:
                subscription = self._subscriptions.get(vaults_match.group(1))
                if subscription is None:
                    status, body = (
                        404,
                        _error("SubscriptionNotFound", f"The subscription '{vaults_match.group(1)[:80]}' could not be found."),
                    )
                elif not subscription.readable:
                    status, body = (
                        403,
                        _error(
                            "AuthorizationFailed",
                            "The client does not have authorization to perform action 'Microsoft.KeyVault/vaults/read' over scope "
                            f"'/subscriptions/{subscription.subscription_id}'.",
                        ),
                    )
                else:
                    status, body = 200, self._page(list(subscription.vaults.values()), skip, top, h, parts)
            else:
                items = [
                    {
                        "id": f"/subscriptions/{s.subscription_id}",
                        "subscriptionId": s.subscription_id,
                        "tenantId": s.tenant_id,
                        "displayName": s.display_name,
                        "state": s.state,
                    }
                    for s in self._subscriptions.values()
                ]
                status, body = 200, self._page(items, skip, top, h, parts)
        self._send(h, path, status, body)

    def _extras(self, roles_match: Any, diagnostics_match: Any, skip: int, top: int, h: Any, parts: Any) -> tuple[int, Any]:
        """Role assignments of a subscription (paged) and a vault's diagnostic settings (one page)."""
        match = roles_match or diagnostics_match
        subscription = self._subscriptions.get(match.group(1))
        if subscription is None:
            return 404, _error("SubscriptionNotFound", f"The subscription '{match.group(1)[:80]}' could not be found.")
        if roles_match:
            if subscription.role_assignments is None:
                return 403, _error("AuthorizationFailed", "The client may not perform 'Microsoft.Authorization/roleAssignments/read'.")
            return 200, self._page(list(subscription.role_assignments), skip, top, h, parts)
        vault = diagnostics_match.group(2)
        if vault not in subscription.vaults:
            return 404, _error("ResourceNotFound", f"The Resource 'Microsoft.KeyVault/vaults/{vault[:80]}' was not found.")
        settings = subscription.diagnostics.get(vault, [])
        if settings is None:
            return 403, _error("AuthorizationFailed", "The client may not perform 'Microsoft.Insights/diagnosticSettings/read'.")
        return 200, {"value": settings}

    def _page(self, items: list[Any], skip: int, top: int, h: Any, parts: Any) -> dict[str, Any]:
        page = items[skip : skip + top]
        next_link = None
        if skip + top < len(items):
            query = {k: v[0] for k, v in parse_qs(parts.query).items() if k not in ("$skiptoken",)}
            query["$skiptoken"] = str(skip + top)
            next_link = f"{self.url}{parts.path}?" + "&".join(f"{k}={v}" for k, v in query.items())
        return {"value": page, "nextLink": next_link}

    def _send(self, h: Any, path: str, status: int, body: Any, *, headers: dict[str, str] | None = None, raw: bool = False) -> None:
        with self._lock:
            self._requests.append(RequestRecord(h.command, path, status))
        payload = body if raw else json.dumps(body).encode("ascii")  # \u escapes: lone surrogates survive
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json; charset=utf-8")
            h.send_header("Content-Length", str(len(payload)))
            h.send_header("x-ms-request-id", str(uuid.uuid4()))
            for key, value in (headers or {}).items():
                h.send_header(key, value)
            h.end_headers()
            h.wfile.write(payload)
            h.wfile.flush()
        except (ConnectionError, ssl.SSLError, TimeoutError, OSError):
            h.close_connection = True
