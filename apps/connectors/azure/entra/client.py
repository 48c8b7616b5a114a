"""Microsoft Graph over azure-core's pipeline: a bearer token from the Azure credential chain,
retries that honour ``Retry-After``, and nothing but the two listings keytrail needs.

No Graph SDK (ADR 0012): keytrail reads two collections, ``GET /v1.0/applications`` and
``GET /v1.0/servicePrincipals``, each with ``$select`` and ``$expand=owners``, paged by
``@odata.nextLink``. Nothing is built at import time.

Settings (``config/settings/azure.py``): ``AZURE_CREDENTIAL_CLASS``, ``AZURE_CONNECTION_VERIFY``,
``AZURE_CONNECTION_TIMEOUT``, ``AZURE_READ_TIMEOUT`` and the ``AZURE_RETRY_*`` budget, shared
with the Key Vault client (see :mod:`apps.connectors.azure.client`).
"""

from __future__ import annotations

import re
import ssl
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import requests
from azure.core.exceptions import AzureError, ClientAuthenticationError, HttpResponseError, ServiceRequestError, ServiceResponseError
from azure.core.pipeline.policies import BearerTokenCredentialPolicy, SansIOHTTPPolicy

from apps.connectors.azure.client import BoundedRetryPolicy, build_credential
from apps.connectors.base import ConnectorError

LIST_APPLICATIONS = "list_applications"
LIST_SERVICE_PRINCIPALS = "list_service_principals"
OPERATIONS = {
    LIST_APPLICATIONS: re.compile(r"^/v1\.0/applications/?$"),
    LIST_SERVICE_PRINCIPALS: re.compile(r"^/v1\.0/servicePrincipals/?$"),
}
MAX_PAGES = 10_000  # 999 items each: far beyond any tenant; a server that never stops paging is broken


class DisallowedGraphOperation(ConnectorError):
    """Raised before sending any request but the two listings, or to another host."""

    def __init__(self, message: str):
        super().__init__(message, code="disallowed_operation", retryable=False)


def operation_name(method: str, url: str) -> str:
    """``list_applications``, ``list_service_principals`` or ``"<METHOD> <path>"`` for anything else."""
    path = urlsplit(url).path
    if method == "GET":
        for name, pattern in OPERATIONS.items():
            if pattern.match(path):
                return name
    return f"{method} {path}"


class GraphCallPolicy(SansIOHTTPPolicy):
    """Counts each logical request (one per page, before retries) and refuses all others.

    Requests may only go to ``host`` (the configured Graph endpoint): an ``@odata.nextLink``
    pointing elsewhere would carry our bearer token to a stranger.
    """

    def __init__(self, counter: Counter, *, host: str) -> None:
        super().__init__()
        self.counter = counter
        self.host = host
        self._requested: set[str] = set()

    def on_request(self, request: Any) -> None:
        http_request = request.http_request
        operation = operation_name(http_request.method, http_request.url)
        if operation not in OPERATIONS:
            raise DisallowedGraphOperation(f"refused to send {operation}: keytrail only lists application metadata")
        if urlsplit(http_request.url).netloc.lower() != self.host:
            raise DisallowedGraphOperation(f"refused to follow a link to another host: {urlsplit(http_request.url).netloc[:200]}")
        if http_request.url in self._requested:
            raise ConnectorError(f"paging loop: {http_request.url[:500]} requested twice", code="malformed_response")
        self._requested.add(http_request.url)
        self.counter[operation] += 1


class _TenantCredential:
    """The configured credential, asked for tokens of one tenant (the source's)."""

    def __init__(self, credential: Any, tenant_id: str) -> None:
        self._credential = credential
        self._tenant_id = tenant_id

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        kwargs.setdefault("tenant_id", self._tenant_id)
        return self._credential.get_token(*scopes, **kwargs)


def graph_scope(graph_url: str) -> str:
    """The token scope for a Graph endpoint: ``https://graph.microsoft.com/.default``."""
    parts = urlsplit(graph_url)
    return f"{parts.scheme}://{parts.netloc}/.default"


class GraphClient:
    """Pages through a Graph collection; one per collection (owns its pipeline)."""

    def __init__(self, graph_url: str, tenant_id: str, *, credential: Any, api_calls: Counter) -> None:
        from azure.core import PipelineClient
        from azure.core.pipeline.policies import HeadersPolicy, UserAgentPolicy
        from azure.core.pipeline.transport import RequestsTransport
        from django.conf import settings

        self.graph_url = graph_url.rstrip("/")
        retry_total = int(settings.AZURE_RETRY_TOTAL)
        self.policy = GraphCallPolicy(api_calls, host=urlsplit(self.graph_url).netloc.lower())
        policies = [
            HeadersPolicy({"Accept": "application/json"}),
            UserAgentPolicy("keytrail"),
            self.policy,  # before the retry policy: a page retried three times counts once
            BoundedRetryPolicy(
                retry_total=retry_total,
                retry_connect=retry_total,
                retry_read=retry_total,
                retry_status=retry_total,
                retry_backoff_factor=settings.AZURE_RETRY_BACKOFF_FACTOR,
                retry_backoff_max=settings.AZURE_RETRY_BACKOFF_MAX,
                retry_after_max=settings.AZURE_RETRY_AFTER_MAX,
            ),
            BearerTokenCredentialPolicy(_TenantCredential(credential, tenant_id), graph_scope(self.graph_url)),
        ]
        transport = RequestsTransport(
            connection_verify=settings.AZURE_CONNECTION_VERIFY or True,
            connection_timeout=settings.AZURE_CONNECTION_TIMEOUT,
            read_timeout=settings.AZURE_READ_TIMEOUT,
        )
        self._client: Any = PipelineClient(self.graph_url, policies=policies, transport=transport)

    def close(self) -> None:
        self._client.close()

    def pages(self, path: str, params: dict[str, str]) -> Iterator[list[Any]]:
        """Yield each page's ``value`` list, following ``@odata.nextLink`` to the end.

        Raises ConnectorError (``malformed_response``) for a page that is not a JSON object
        with a ``value`` list, or a next link that is not a string.
        """
        from azure.core.rest import HttpRequest

        request = HttpRequest("GET", f"{self.graph_url}{path}", params=params)
        for _ in range(MAX_PAGES):
            response = self._client.send_request(request)
            response.raise_for_status()
            try:
                body = response.json()
            except ValueError as exc:
                raise ConnectorError(f"Microsoft Graph {path}: response is not valid JSON", code="malformed_response") from exc
            if not isinstance(body, dict) or not isinstance(body.get("value"), list):
                raise ConnectorError(f"Microsoft Graph {path}: response has no 'value' list", code="malformed_response")
            yield body["value"]
            next_link = body.get("@odata.nextLink")
            if next_link is None:
                return
            if not isinstance(next_link, str) or not next_link.lower().startswith("https://"):
                raise ConnectorError(f"Microsoft Graph {path}: '@odata.nextLink' is not an https URL", code="malformed_response")
            request = HttpRequest("GET", next_link)
        raise ConnectorError(f"Microsoft Graph {path}: more than {MAX_PAGES} pages", code="malformed_response")


@contextmanager
def graph_client(graph_url: str, tenant_id: str, *, api_calls: Counter) -> Iterator[GraphClient]:
    """Yield a :class:`GraphClient` for one collection; closes it and the credential after."""
    credential = build_credential()
    client = None
    try:
        client = GraphClient(graph_url, tenant_id, credential=credential, api_calls=api_calls)
        yield client
    finally:
        if client is not None:
            client.close()
        close = getattr(credential, "close", None)
        if callable(close):
            close()


@contextmanager
def graph_errors(graph_url: str) -> Iterator[None]:
    """Turn azure-core and transport exceptions into ConnectorError codes, naming Graph."""
    try:
        yield
    except ConnectorError:
        raise
    except Exception as exc:
        mapped = to_connector_error(exc, graph_url)
        if mapped is None:
            raise  # a bug, not a Graph problem: let it surface with its traceback
        raise mapped from exc


def to_connector_error(exc: Exception, graph_url: str) -> ConnectorError | None:
    where = f"Microsoft Graph {graph_url}"
    if isinstance(exc, ClientAuthenticationError):  # the credential could not get a token, or 401
        return ConnectorError(f"{where}: authentication refused: {_short(exc)}", code="auth_refused")
    if isinstance(exc, HttpResponseError):
        status = exc.status_code or 0
        if status == 401:
            return ConnectorError(f"{where}: HTTP 401, token refused: {_short(exc)}", code="auth_refused")
        if status == 403:
            message = f"{where}: HTTP 403, keytrail's identity lacks Application.Read.All: {_short(exc)}"
            return ConnectorError(message, code="auth_refused")
        if status == 429:
            return ConnectorError(f"{where}: throttled (HTTP 429) beyond retries", code="throttled", retryable=True)
        if status >= 500:
            return ConnectorError(f"{where}: HTTP {status} beyond retries: {_short(exc)}", code="server_error", retryable=True)
        if status == 404:
            return ConnectorError(f"{where}: HTTP 404, not a Graph endpoint or unknown tenant: {_short(exc)}", code="not_found")
        return ConnectorError(f"{where}: HTTP {status}: {_short(exc)}", code="http_error")
    if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
        inner = getattr(exc, "inner_exception", None)
        if isinstance(inner, (ssl.SSLError, requests.exceptions.SSLError)):
            return ConnectorError(f"{where}: TLS verification failed: {_short(exc)}", code="tls_error")
        return ConnectorError(f"{where}: unreachable: {_short(exc)}", code="unreachable", retryable=True)
    if isinstance(exc, AzureError):
        return ConnectorError(f"{where}: {type(exc).__name__}: {_short(exc)}", code="http_error")
    return None


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:500]
