"""Builds the Key Vault clients the connectors use (``SecretClient``, ``KeyClient``,
``CertificateClient``); nothing is built at import time.

Settings (``config/settings/azure.py``), read when a client is built:

``AZURE_CREDENTIAL_CLASS``
    Dotted path of a token credential class, instantiated with no arguments
    (default ``azure.identity.DefaultAzureCredential``).
``AZURE_VERIFY_CHALLENGE_RESOURCE``
    Keep ``True`` in production: the SDK then refuses a challenge whose resource does not
    match the vault's domain. Only a vault on 127.0.0.1 (the simulator) needs ``False``.
``AZURE_CONNECTION_VERIFY``
    A CA bundle path to trust, or ``""`` for the system store.
``AZURE_CONNECTION_TIMEOUT`` / ``AZURE_READ_TIMEOUT``
    Seconds, per HTTP attempt.
``AZURE_RETRY_TOTAL``
    Retries per request, shared by connection errors, read timeouts and retryable
    statuses (408, 429, 500, 502, 503, 504).
``AZURE_RETRY_BACKOFF_FACTOR`` / ``AZURE_RETRY_BACKOFF_MAX`` / ``AZURE_RETRY_AFTER_MAX``
    Optional (defaults 0.8 s, 60 s, 60 s): exponential backoff between retries, its cap,
    and the longest ``Retry-After`` we honour before retrying anyway.

Every request passes :class:`ApiCallPolicy`, which counts logical requests (one per page,
before retries) by operation and refuses anything but the operations its client is for
(:data:`ALLOWED_OPERATIONS`), so a secret's value, a key or a certificate cannot be requested
through these clients even by mistake.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from azure.core.pipeline.policies import RetryPolicy, SansIOHTTPPolicy

from apps.connectors.base import ConnectorError

if TYPE_CHECKING:
    from azure.keyvault.secrets import SecretClient

LIST_SECRETS = "list_secrets"
LIST_SECRET_VERSIONS = "list_secret_versions"
LIST_KEYS = "list_keys"
LIST_KEY_VERSIONS = "list_key_versions"
GET_KEY_ROTATION_POLICY = "get_key_rotation_policy"
LIST_CERTIFICATES = "list_certificates"
LIST_CERTIFICATE_VERSIONS = "list_certificate_versions"
GET_CERTIFICATE_POLICY = "get_certificate_policy"

# GET path -> operation. Nothing else is ever sent: not a secret's value (/secrets/{name}), not
# a key (/keys/{name}, its public JWK), not a certificate (/certificates/{name}).
_OPERATIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^/secrets/?$"), LIST_SECRETS),
    (re.compile(r"^/secrets/[^/]+/versions/?$"), LIST_SECRET_VERSIONS),
    (re.compile(r"^/keys/?$"), LIST_KEYS),
    (re.compile(r"^/keys/[^/]+/versions/?$"), LIST_KEY_VERSIONS),
    (re.compile(r"^/keys/[^/]+/rotationpolicy/?$"), GET_KEY_ROTATION_POLICY),
    (re.compile(r"^/certificates/?$"), LIST_CERTIFICATES),
    (re.compile(r"^/certificates/[^/]+/versions/?$"), LIST_CERTIFICATE_VERSIONS),
    (re.compile(r"^/certificates/[^/]+/policy/?$"), GET_CERTIFICATE_POLICY),
)

# What each client may send.
ALLOWED_OPERATIONS: dict[str, frozenset[str]] = {
    "secrets": frozenset({LIST_SECRETS, LIST_SECRET_VERSIONS}),
    "keys": frozenset({LIST_KEYS, LIST_KEY_VERSIONS, GET_KEY_ROTATION_POLICY}),
    "certificates": frozenset({LIST_CERTIFICATES, LIST_CERTIFICATE_VERSIONS, GET_CERTIFICATE_POLICY}),
}


class DisallowedOperation(ConnectorError):
    """Raised before sending any request other than the client's allowed operations."""

    def __init__(self, message: str):
        super().__init__(message, code="disallowed_operation", retryable=False)


def operation_name(method: str, url: str) -> str:
    """Map a request to the operation it performs (``list_secrets``, ``get_key_rotation_policy``...)
    or a description of anything else (which :class:`ApiCallPolicy` refuses)."""
    path = urlsplit(url).path
    if method == "GET":
        for pattern, operation in _OPERATIONS:
            if pattern.match(path):
                return operation
    return f"{method} {path}"


class ApiCallPolicy(SansIOHTTPPolicy):
    """Counts each logical request by operation into ``counter`` and refuses all others.

    Installed as a per-call policy, i.e. before the retry policy: a page that needed three
    attempts (or the challenge round trip) counts once. ``last_response`` keeps the latest
    response so the connector can fall back to the raw page when the SDK cannot build it.
    """

    def __init__(self, counter: Counter, allowed: frozenset[str] = ALLOWED_OPERATIONS["secrets"]) -> None:
        super().__init__()
        self.counter = counter
        self.allowed = allowed
        self.last_response: Any = None
        self._requested: set[str] = set()

    def on_request(self, request: Any) -> None:
        http_request = request.http_request
        operation = operation_name(http_request.method, http_request.url)
        if operation not in self.allowed:
            raise DisallowedOperation(f"refused to send {operation}: keytrail only lists metadata ({', '.join(sorted(self.allowed))})")
        # Each page is requested once per collection; a nextLink that leads back to a page
        # already read would otherwise page forever.
        if http_request.url in self._requested:
            raise ConnectorError(f"paging loop: {http_request.url} requested twice", code="malformed_response")
        self._requested.add(http_request.url)
        self.counter[operation] += 1
        self.last_response = None

    def on_response(self, request: Any, response: Any) -> None:
        self.last_response = response.http_response


class BoundedRetryPolicy(RetryPolicy):
    """azure-core's retry policy with ``Retry-After`` capped: a vault asking us to wait an
    hour should not park a worker for an hour; after the cap we retry, and if it is still
    throttling, the task fails as ``throttled`` and is retried later by Celery."""

    def __init__(self, *, retry_after_max: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.retry_after_max = retry_after_max

    def get_retry_after(self, response: Any) -> float | None:
        retry_after = super().get_retry_after(response)
        if retry_after is None:
            return None
        return min(retry_after, self.retry_after_max)


def build_credential() -> Any:
    """Instantiate ``AZURE_CREDENTIAL_CLASS`` with no arguments."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    path = settings.AZURE_CREDENTIAL_CLASS
    try:
        credential_class = import_string(path)
    except ImportError as exc:
        raise ConnectorError(f"AZURE_CREDENTIAL_CLASS {path!r} cannot be imported: {exc}", code="config_error") from exc
    return credential_class()


def _client_options() -> dict[str, Any]:
    """The keyword arguments every Key Vault client is built with, from settings."""
    from django.conf import settings

    retry_total = int(settings.AZURE_RETRY_TOTAL)
    retry_policy = BoundedRetryPolicy(
        retry_total=retry_total,
        # One budget for every kind of failure: azure-core's defaults (3 each) would
        # otherwise cap AZURE_RETRY_TOTAL silently.
        retry_connect=retry_total,
        retry_read=retry_total,
        retry_status=retry_total,
        retry_backoff_factor=settings.AZURE_RETRY_BACKOFF_FACTOR,
        retry_backoff_max=settings.AZURE_RETRY_BACKOFF_MAX,
        retry_after_max=settings.AZURE_RETRY_AFTER_MAX,
    )
    return {
        "verify_challenge_resource": bool(settings.AZURE_VERIFY_CHALLENGE_RESOURCE),
        "connection_verify": settings.AZURE_CONNECTION_VERIFY or True,
        "connection_timeout": settings.AZURE_CONNECTION_TIMEOUT,
        "read_timeout": settings.AZURE_READ_TIMEOUT,
        "retry_policy": retry_policy,
    }


def _client_class(collection: str) -> type:
    if collection == "secrets":
        from azure.keyvault.secrets import SecretClient

        return SecretClient
    if collection == "keys":
        from azure.keyvault.keys import KeyClient

        return KeyClient
    if collection == "certificates":
        from azure.keyvault.certificates import CertificateClient

        return CertificateClient
    raise ValueError(f"no Key Vault client for {collection!r}")


def build_vault_client(collection: str, vault_url: str, *, credential: Any, policy: ApiCallPolicy | None = None) -> Any:
    """Return the ``SecretClient``, ``KeyClient`` or ``CertificateClient`` (``collection``:
    ``"secrets"``, ``"keys"``, ``"certificates"``) for ``vault_url``, configured from settings.

    ``policy`` counts calls (a fresh one when omitted); the refusal of anything but the
    collection's allowed operations is always installed. The caller owns (and closes) both the
    client and ``credential``.
    """
    allowed = ALLOWED_OPERATIONS[collection]
    if policy is None:
        policy = ApiCallPolicy(Counter(), allowed)
    elif policy.allowed != allowed:
        policy.allowed = allowed
    return _client_class(collection)(vault_url=vault_url, credential=credential, per_call_policies=[policy], **_client_options())


def build_secret_client(vault_url: str, *, credential: Any, policy: ApiCallPolicy | None = None) -> SecretClient:
    """Return a ``SecretClient`` for ``vault_url`` configured from settings (see :func:`build_vault_client`)."""
    client: SecretClient = build_vault_client("secrets", vault_url, credential=credential, policy=policy)
    return client


@contextmanager
def vault_client(collection: str, vault_url: str, *, api_calls: Counter) -> Iterator[tuple[Any, ApiCallPolicy]]:
    """Yield ``(client, policy)`` for one collection of ``collection`` (secrets, keys or
    certificates); closes the client and credential after.

    ``api_calls`` receives one count per logical request, by operation.
    """
    credential = build_credential()
    policy = ApiCallPolicy(api_calls, ALLOWED_OPERATIONS[collection])
    try:
        client = build_vault_client(collection, vault_url, credential=credential, policy=policy)
        with client:
            yield client, policy
    finally:
        close = getattr(credential, "close", None)
        if callable(close):
            close()


@contextmanager
def secret_client(vault_url: str, *, api_calls: Counter) -> Iterator[tuple[SecretClient, ApiCallPolicy]]:
    """Yield ``(client, policy)`` for one collection of secrets (see :func:`vault_client`)."""
    with vault_client("secrets", vault_url, api_calls=api_calls) as pair:
        yield pair
