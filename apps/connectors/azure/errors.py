"""Key Vault SDK and transport exceptions as ConnectorError codes."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager

import requests
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    DecodeError,
    HttpResponseError,
    IncompleteReadError,
    ServiceRequestError,
    ServiceResponseError,
)

from apps.connectors.base import ConnectorError

AUTH_STATUSES = frozenset({401, 403})


@contextmanager
def vault_errors(vault_url: str) -> Iterator[None]:
    """Turn SDK and transport exceptions into ConnectorError codes."""
    try:
        yield
    except ConnectorError:
        raise
    except Exception as exc:
        mapped = to_connector_error(exc, vault_url)
        if mapped is None:
            raise  # a bug, not a vault problem: let it surface with its traceback
        raise mapped from exc


def to_connector_error(exc: Exception, vault_url: str) -> ConnectorError | None:
    where = f"Key Vault {vault_url}"
    if isinstance(exc, ClientAuthenticationError):  # includes the credential failing to get a token
        return ConnectorError(f"{where}: authentication refused: {_short(exc)}", code="auth_refused")
    if isinstance(exc, IncompleteReadError):
        message = f"{where}: response body truncated: {_short(exc)}"
        return ConnectorError(message, code="malformed_response", retryable=True)
    if isinstance(exc, DecodeError):
        return ConnectorError(f"{where}: response is not valid JSON: {_short(exc)}", code="malformed_response")
    if isinstance(exc, UnicodeDecodeError):
        # The SDK decodes the body before parsing it; bytes that are not UTF-8 make it
        # unreadable as a whole (Key Vault always answers in UTF-8), like invalid JSON.
        return ConnectorError(f"{where}: response is not valid UTF-8: {_short(exc)}", code="malformed_response")
    if isinstance(exc, HttpResponseError):
        status = exc.status_code or 0
        if status in AUTH_STATUSES:
            return ConnectorError(f"{where}: HTTP {status}, token refused: {_short(exc)}", code="auth_refused")
        if status == 429:
            return ConnectorError(f"{where}: throttled (HTTP 429) beyond retries", code="throttled", retryable=True)
        if status >= 500:
            message = f"{where}: HTTP {status} beyond retries: {_short(exc)}"
            return ConnectorError(message, code="server_error", retryable=True)
        if status == 404:
            return ConnectorError(f"{where}: HTTP 404, not a vault endpoint: {_short(exc)}", code="not_found")
        return ConnectorError(f"{where}: HTTP {status}: {_short(exc)}", code="http_error")
    if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
        if _is_tls_failure(exc):
            # An untrusted or mismatched certificate does not heal by retrying.
            return ConnectorError(f"{where}: TLS verification failed: {_short(exc)}", code="tls_error")
        return ConnectorError(f"{where}: unreachable: {_short(exc)}", code="unreachable", retryable=True)
    if isinstance(exc, ValueError) and "challenge" in str(exc).lower():
        # The SDK's challenge checks (resource/domain mismatch, bad WWW-Authenticate).
        return ConnectorError(f"{where}: authentication challenge rejected: {_short(exc)}", code="auth_refused")
    if isinstance(exc, AzureError):
        return ConnectorError(f"{where}: {type(exc).__name__}: {_short(exc)}", code="http_error")
    return None


def _is_tls_failure(exc: AzureError) -> bool:
    inner = getattr(exc, "inner_exception", None)
    return isinstance(inner, (ssl.SSLError, requests.exceptions.SSLError))


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:500]
