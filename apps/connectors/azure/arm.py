"""Azure Resource Manager clients for subscription sources; nothing is built at import time.

One ``KeyVaultManagementClient`` (azure-mgmt-keyvault) per subscription lists its vaults
(``vaults.list_by_subscription``, paged by ``nextLink``), one ``AuthorizationManagementClient``
(azure-mgmt-authorization) its role assignments (``role_assignments.list_for_subscription``).
The subscription listing (``GET /subscriptions``) and each vault's diagnostic settings are sent
through the Key Vault client's pipeline (``send_request``): ``SubscriptionClient`` is no longer
in azure-mgmt-resource 26 and diagnostic settings are no longer in azure-mgmt-monitor 7 (both
moved to packages keytrail does not install, see ADR 0011), and the pipeline already carries
the credential, retries and the call policy below.

Settings (``config/settings/azure.py``): ``AZURE_RESOURCE_MANAGER_URL`` (the endpoint, the
simulator's in tests and the demo), ``AZURE_RESOURCE_MANAGER_SCOPE`` (the token scope), and the
Key Vault ones shared with the data plane (credential class, CA bundle, timeouts, retries).

Every request passes :class:`ArmCallPolicy`, which counts logical requests by operation and
refuses anything but the four listings: nothing is ever written, and no vault content is read
through Resource Manager.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from azure.core.pipeline.policies import SansIOHTTPPolicy

from apps.connectors.azure.client import BoundedRetryPolicy, DisallowedOperation, build_credential
from apps.connectors.base import ConnectorError

LIST_SUBSCRIPTIONS = "list_subscriptions"
LIST_VAULTS = "list_vaults_by_subscription"
LIST_ROLE_ASSIGNMENTS = "list_role_assignments_for_subscription"
LIST_DIAGNOSTIC_SETTINGS = "list_vault_diagnostic_settings"
ALLOWED = frozenset({LIST_SUBSCRIPTIONS, LIST_VAULTS, LIST_ROLE_ASSIGNMENTS, LIST_DIAGNOSTIC_SETTINGS})
SUBSCRIPTIONS_API_VERSION = "2022-12-01"
DIAGNOSTIC_SETTINGS_API_VERSION = "2021-05-01-preview"

_SUBSCRIPTIONS_PATH = re.compile(r"^/subscriptions/?$")
_VAULTS_PATH = re.compile(r"^/subscriptions/[^/]+/providers/Microsoft\.KeyVault/vaults/?$", re.IGNORECASE)
_ROLE_ASSIGNMENTS_PATH = re.compile(r"^/subscriptions/[^/]+/providers/Microsoft\.Authorization/roleAssignments/?$", re.IGNORECASE)
_DIAGNOSTICS_PATH = re.compile(
    r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.KeyVault/vaults/[^/]+/providers/Microsoft\.Insights/diagnosticSettings/?$",
    re.IGNORECASE,
)


def operation_name(method: str, url: str) -> str:
    path = urlsplit(url).path
    if method == "GET" and _SUBSCRIPTIONS_PATH.match(path):
        return LIST_SUBSCRIPTIONS
    if method == "GET" and _VAULTS_PATH.match(path):
        return LIST_VAULTS
    if method == "GET" and _ROLE_ASSIGNMENTS_PATH.match(path):
        return LIST_ROLE_ASSIGNMENTS
    if method == "GET" and _DIAGNOSTICS_PATH.match(path):
        return LIST_DIAGNOSTIC_SETTINGS
    return f"{method} {path}"


class ArmCallPolicy(SansIOHTTPPolicy):
    """Counts each logical request (before retries) and refuses everything but the listings;
    a ``nextLink`` leading back to a page already read is a paging loop, refused."""

    def __init__(self, counter: Counter) -> None:
        super().__init__()
        self.counter = counter
        self._requested: set[str] = set()

    def on_request(self, request: Any) -> None:
        http_request = request.http_request
        operation = operation_name(http_request.method, http_request.url)
        if operation not in ALLOWED:
            raise DisallowedOperation(
                f"refused to send {operation}: keytrail only lists subscriptions, vaults, role assignments and diagnostic settings"
            )
        if http_request.url in self._requested:
            raise ConnectorError(f"paging loop: {http_request.url} requested twice", code="malformed_response")
        self._requested.add(http_request.url)
        self.counter[operation] += 1


def build_arm_client(subscription_id: str, *, credential: Any, policy: ArmCallPolicy, client_class: Any = None) -> Any:
    """A management client (``KeyVaultManagementClient`` unless ``client_class``) for one
    subscription, configured from settings, with ``policy`` installed."""
    from azure.mgmt.keyvault import KeyVaultManagementClient
    from django.conf import settings

    retry_total = int(settings.AZURE_RETRY_TOTAL)
    return (client_class or KeyVaultManagementClient)(
        credential,
        subscription_id,
        base_url=settings.AZURE_RESOURCE_MANAGER_URL.rstrip("/"),
        credential_scopes=[settings.AZURE_RESOURCE_MANAGER_SCOPE],
        connection_verify=settings.AZURE_CONNECTION_VERIFY or True,
        connection_timeout=settings.AZURE_CONNECTION_TIMEOUT,
        read_timeout=settings.AZURE_READ_TIMEOUT,
        retry_policy=BoundedRetryPolicy(
            retry_total=retry_total,
            retry_connect=retry_total,
            retry_read=retry_total,
            retry_status=retry_total,
            retry_backoff_factor=settings.AZURE_RETRY_BACKOFF_FACTOR,
            retry_backoff_max=settings.AZURE_RETRY_BACKOFF_MAX,
            retry_after_max=settings.AZURE_RETRY_AFTER_MAX,
        ),
        per_call_policies=[policy],
    )


class ArmSession:
    """One discovery's Resource Manager access: a credential, and a client per subscription."""

    def __init__(self, api_calls: Counter) -> None:
        self.credential = build_credential()
        self.policy = ArmCallPolicy(api_calls)
        self._clients: dict[str, Any] = {}

    def client(self, subscription_id: str, kind: str = "keyvault") -> Any:
        """The subscription's client: ``keyvault`` (azure-mgmt-keyvault) or ``authorization``
        (azure-mgmt-authorization)."""
        key = f"{kind}:{subscription_id}"
        if key not in self._clients:
            client_class: Any = None
            if kind == "authorization":
                from azure.mgmt.authorization import AuthorizationManagementClient

                client_class = AuthorizationManagementClient
            self._clients[key] = build_arm_client(
                subscription_id, credential=self.credential, policy=self.policy, client_class=client_class
            )
        return self._clients[key]

    def list_subscriptions(self) -> Iterator[Any]:
        """Every subscription entry (raw JSON) of ``GET /subscriptions``, all pages."""
        from django.conf import settings

        url = f"{settings.AZURE_RESOURCE_MANAGER_URL.rstrip('/')}/subscriptions?api-version={SUBSCRIPTIONS_API_VERSION}"
        yield from self.raw_listing(url, "subscription listing")

    def list_diagnostic_settings(self, subscription_id: str, resource_id: str) -> list[Any]:
        """A resource's diagnostic settings (raw JSON), ``GET {resource}/providers/Microsoft.Insights/diagnosticSettings``
        (azure-mgmt-monitor 7 no longer has these operations; see ADR 0011)."""
        from django.conf import settings

        url = (
            f"{settings.AZURE_RESOURCE_MANAGER_URL.rstrip('/')}{resource_id}/providers/Microsoft.Insights/diagnosticSettings"
            f"?api-version={DIAGNOSTIC_SETTINGS_API_VERSION}"
        )
        return list(self.raw_listing(url, f"diagnostic settings of {resource_id}", subscription_id=subscription_id))

    def raw_listing(self, url: str, what: str, *, subscription_id: str = "00000000-0000-0000-0000-000000000000") -> Iterator[Any]:
        """Every item of a Resource Manager listing at ``url``, following ``nextLink``, sent through
        a management client's pipeline (credential, retries, the call policy)."""
        from azure.core.rest import HttpRequest

        client = self.client(subscription_id)
        next_url: str | None = url
        while next_url:
            response = client.send_request(HttpRequest("GET", next_url))
            response.raise_for_status()
            try:
                body = response.json()
            except ValueError as exc:
                raise ConnectorError(f"{what}: response is not JSON ({exc})", code="malformed_response") from exc
            if not isinstance(body, dict) or not isinstance(body.get("value"), list):
                raise ConnectorError(f"{what}: response is not a listing", code="malformed_response")
            yield from body["value"]
            next_link = body.get("nextLink")
            if next_link is not None and not isinstance(next_link, str):
                raise ConnectorError(f"{what}: nextLink is not a string", code="malformed_response")
            next_url = next_link or None

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        close = getattr(self.credential, "close", None)
        if callable(close):
            close()


@contextmanager
def arm_session(api_calls: Counter) -> Iterator[ArmSession]:
    session = ArmSession(api_calls)
    try:
        yield session
    finally:
        session.close()
