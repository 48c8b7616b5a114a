"""Azure Key Vault connector: every secret's properties in one vault, never a value.

Calls (data plane, through :mod:`apps.connectors.azure.client`):

* ``list_properties_of_secrets`` — ``GET /secrets``, 25 per page; always made.
* ``list_properties_of_secret_versions`` — ``GET /secrets/{name}/versions``, once per
  secret that is new or whose ``updated`` changed since ``previous_state``; it gives the
  version count and the newest version's creation time (the last rotation). These run on
  ``AZURE_KEY_VAULT_VERSION_CONCURRENCY`` threads (default 4) after the listing.

``CollectionResult.state`` is ``{"v": 1, "secrets": {secret_id: [updated, version_count,
newest_version_created]}}`` (Unix seconds, ``newest_version_created`` may be null), so an
unchanged vault costs only the paged list calls.
"""

from __future__ import annotations

import json
import ssl
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote, urlsplit

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    DecodeError,
    HttpResponseError,
    IncompleteReadError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)

from apps.connectors.azure.client import ApiCallPolicy, secret_client
from apps.connectors.base import (
    CollectionResult,
    Connector,
    ConnectorError,
    CredentialRecord,
    SourceConfig,
    Target,
)
from apps.connectors.azure.source import KeyVault
from apps.connectors.kinds import CredentialKind

STATE_VERSION = 1
# Below this many secrets needing a versions call, one client does them in turn.
VERSIONS_CONCURRENCY_THRESHOLD = 100

_AUTH_STATUSES = {401, 403}


class KeyVaultConnector(Connector):
    """Collects secret metadata from one vault (``target.vault_url``)."""

    kind = "azure_key_vault"
    source = KeyVault
    credential_kinds = (CredentialKind.KV_SECRET,)

    @classmethod
    def targets(cls, config: SourceConfig) -> list[Target]:
        """One unit: the vault."""
        return [Target(kind=cls.kind, source_key=config.vault_url, vault_url=config.vault_url)]

    def collect(self, target: Target, *, previous_state: dict | None = None) -> CollectionResult:
        """Return one ``kv_secret`` CredentialRecord per secret, and the state for next time.

        Raises ConnectorError with code ``auth_refused`` (401/403, a credential that
        cannot get a token, a challenge the SDK rejects), ``throttled`` (429 beyond
        retries), ``unreachable`` (connection errors, timeouts), ``server_error`` (5xx
        beyond retries), ``malformed_response`` (a body that is not JSON, is truncated,
        or is not a listing), ``tls_error`` (certificate not trusted), ``not_found``,
        ``http_error``, ``bad_target`` or ``config_error``. Single bad items are recorded in ``result.errors`` instead.
        """
        vault_url = (target.vault_url or target.source_key).strip().rstrip("/")
        if not vault_url.lower().startswith("https://"):
            raise ConnectorError(f"not an https vault URL: {vault_url!r}", code="bad_target")
        result = CollectionResult(target=target)
        known = _load_state(previous_state)
        state: dict[str, list[Any]] = {}
        seen: set[str] = set()

        with _vault_errors(vault_url):
            with secret_client(vault_url, api_calls=result.api_calls) as (client, policy):
                listing = _iter_listing(client.list_properties_of_secrets, policy, "secret listing")
                pending: list[CredentialRecord] = []
                for props, raw in listing:
                    record = _record_from_properties(props, raw, vault_url, result)
                    if record is None:
                        continue
                    if record.external_id in seen:
                        result.add_error("duplicate_item", "secret listed twice; kept the first", record.external_id)
                        continue
                    seen.add(record.external_id)
                    if not self._reuse_version_facts(record, known, state):
                        pending.append(record)
                    result.credentials.append(record)
                fetched = self._fetch_all_versions(vault_url, client, policy, pending, result)
            for record in pending:
                if record.external_id in fetched:
                    _set_version_facts(record, *fetched[record.external_id], state)
                # else: recorded as an item error; keep updated_on, store no state: retried next time

        result.state = {"v": STATE_VERSION, "secrets": state}
        return result

    @staticmethod
    def _reuse_version_facts(record: CredentialRecord, known: dict[str, list[Any]], state: dict[str, list[Any]]) -> bool:
        """Set version_count and last_rotated_at from previous state when ``updated`` is unchanged."""
        updated = _epoch(record.last_changed_at)
        previous = known.get(record.external_id)
        if updated is not None and previous is not None and previous[0] == updated:
            _set_version_facts(record, previous[1], previous[2], state)
            return True
        return False

    @staticmethod
    def _fetch_all_versions(
        vault_url: str, client: Any, policy: ApiCallPolicy, records: list[CredentialRecord], result: CollectionResult
    ) -> dict[str, tuple[int, int | None]]:
        """List the versions of ``records``: on ``client`` when they are few, otherwise on
        AZURE_KEY_VAULT_VERSION_CONCURRENCY threads.

        A first collection of a large vault is one versions call per secret, bound by round
        trips, so they overlap. Each thread has its own client and call counter (the
        policy's paging guard and last response are per client; each new client asks the
        credential for a token, hence the threshold); counts are added to
        ``result.api_calls`` and item errors in listing order. A vault-level failure on any
        thread is raised.
        """
        from django.conf import settings

        workers = max(1, min(int(getattr(settings, "AZURE_KEY_VAULT_VERSION_CONCURRENCY", 4)), len(records)))
        if workers == 1 or len(records) < VERSIONS_CONCURRENCY_THRESHOLD:
            fetched = {}
            for record in records:
                answer = _fetch_versions(client, policy, record.name, record.external_id, result)
                if answer is not None:
                    fetched[record.external_id] = answer
            return fetched
        chunks = [records[i::workers] for i in range(workers)]

        def run(chunk: list[CredentialRecord]) -> tuple[dict[str, tuple[int, int | None]], Counter, list[dict]]:
            calls: Counter = Counter()
            scratch = CollectionResult(target=result.target)  # item errors, merged in listing order below
            out: dict[str, tuple[int, int | None]] = {}
            with secret_client(vault_url, api_calls=calls) as (client, policy):
                for record in chunk:
                    answer = _fetch_versions(client, policy, record.name, record.external_id, scratch)
                    if answer is not None:
                        out[record.external_id] = answer
            return out, calls, scratch.errors

        fetched: dict[str, tuple[int, int | None]] = {}
        errors: list[dict] = []
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="keytrail-kv") as pool:
            for out, calls, chunk_errors in pool.map(run, chunks):
                fetched.update(out)
                result.api_calls.update(calls)
                errors += chunk_errors
        position = {record.external_id: i for i, record in enumerate(records)}
        result.errors += sorted(errors, key=lambda e: position.get(e.get("item"), len(position)))
        return fetched


def _set_version_facts(record: CredentialRecord, count: int, newest: int | None, state: dict[str, list[Any]]) -> None:
    record.attributes["version_count"] = count
    if newest is not None:
        record.last_rotated_at = datetime.fromtimestamp(newest, tz=timezone.utc)
    updated = _epoch(record.last_changed_at)
    if updated is not None:
        state[record.external_id] = [updated, count, newest]


# ------------------------------------------------------------------------------ listing


def _iter_listing(list_call: Callable[..., Any], policy: ApiCallPolicy, what: str) -> Iterator[tuple[Any, Any]]:
    """Yield ``(properties, raw_item)`` for every item of every page of ``list_call()``.

    ``raw_item`` is the item's JSON as received (or None), kept because the SDK coerces
    some values silently (``"enabled": "false"`` becomes True).

    The SDK builds a whole page at once, and one item it cannot parse (an id that is not a
    Key Vault URL, tags that are not an object) fails the page. Then the page's raw JSON
    (kept by ``policy``) is read item by item instead, and paging resumes from its
    ``nextLink``.
    """
    pages = list_call().by_page()
    while True:
        policy.last_response = None
        try:
            page = list(next(pages))
        except StopIteration:
            return
        except (AzureError, ConnectorError):
            raise
        except Exception as exc:  # noqa: BLE001 - the SDK's model code raises anything on bad input
            raw = policy.last_response
            if raw is None:  # failed before any response: not a page problem
                raise
            items, next_link = _raw_page(raw, what, exc)
            yield from ((_RawProperties(item), item) for item in items)
            if not next_link:
                return
            pages = list_call().by_page(continuation_token=next_link)
            continue
        raw_items = _raw_values(policy.last_response)
        if len(raw_items) != len(page):
            raw_items = [None] * len(page)
        yield from zip(page, raw_items)


def _raw_values(response: Any) -> list[Any]:
    try:
        values = response.json().get("value")
    except Exception:  # noqa: BLE001 - the SDK read this body already; this is a cross-check only
        return []
    return values if isinstance(values, list) else []


def _raw_page(response: Any, what: str, cause: Exception) -> tuple[list[Any], str | None]:
    try:
        body = json.loads(response.text())
    except (ValueError, TypeError) as exc:
        raise ConnectorError(f"{what}: response is not JSON ({exc})", code="malformed_response") from cause
    if not isinstance(body, dict) or not isinstance(body.get("value", []), list):
        raise ConnectorError(f"{what}: response is not a listing ({cause})", code="malformed_response") from cause
    next_link = body.get("nextLink")
    if next_link is not None and not isinstance(next_link, str):
        raise ConnectorError(f"{what}: nextLink is not a string", code="malformed_response") from cause
    return list(body.get("value", [])), next_link or None


class _RawProperties:
    """The attributes of ``SecretProperties`` read from one raw JSON item, without
    validation: :func:`_record_from_properties` checks every value either way."""

    def __init__(self, item: Any) -> None:
        item = item if isinstance(item, dict) else {"_not_an_object": item}
        attributes = item.get("attributes")
        if attributes is None:
            attributes = {}
        elif not isinstance(attributes, dict):  # every attribute is unreadable, not unset
            attributes = dict.fromkeys(("enabled", "created", "updated", "exp", "nbf", "recoveryLevel"), _Unreadable)
        self.id = item.get("id")
        self.vault_url = self.name = None
        if isinstance(self.id, str):
            # The same reading as the SDK's parse_key_vault_id.
            try:
                parts = urlsplit(self.id)
                port = parts.port
            except ValueError:
                parts, port = None, None
            segments = [unquote(s) for s in parts.path.split("/") if s] if parts else []
            if parts and parts.scheme and parts.hostname and len(segments) in (2, 3):
                self.vault_url = f"{parts.scheme}://{parts.hostname}" + (f":{port}" if port else "")
                self.name = segments[1]
        self.enabled = attributes.get("enabled")
        self.created_on = _from_epoch_or_raw(attributes.get("created"))
        self.updated_on = _from_epoch_or_raw(attributes.get("updated"))
        self.expires_on = _from_epoch_or_raw(attributes.get("exp"))
        self.not_before = _from_epoch_or_raw(attributes.get("nbf"))
        self.recovery_level = attributes.get("recoveryLevel")
        self.content_type = item.get("contentType")
        self.tags = item.get("tags")
        self.managed = item.get("managed")


def _from_epoch_or_raw(value: Any) -> Any:
    if isinstance(value, bool):
        return value  # not a timestamp; flagged by the mapper
    if isinstance(value, (int, float)):
        try:
            return datetime.fromtimestamp(value, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            return value
    return value


def _fetch_versions(
    client: Any, policy: ApiCallPolicy, name: str, secret_id: str, result: CollectionResult
) -> tuple[int, int | None] | None:
    """Return ``(version_count, newest_created_epoch)``, or None after recording an item error.

    Auth refusal, throttling and connection failures still raise: they concern the vault.
    """
    count = 0
    newest: int | None = None
    bad: list[str] = []
    try:
        for version, _raw in _iter_listing(
            lambda **kw: client.list_properties_of_secret_versions(name, **kw), policy, f"versions of {secret_id}"
        ):
            count += 1
            created = _safe_get(version, "created_on")
            if isinstance(created, datetime):
                created_s = _epoch(created)
                newest = created_s if newest is None else max(newest, created_s)
            elif created is not None:
                bad.append(str(_safe_get(version, "id") or "?"))
    except ResourceNotFoundError:
        result.add_error("item_vanished", "secret disappeared before its versions were listed", secret_id)
        return None
    except (DecodeError, ConnectorError) as exc:
        if isinstance(exc, ConnectorError) and exc.code != "malformed_response":
            raise
        result.add_error("malformed_item", f"versions listing unreadable: {exc}", secret_id)
        return None
    except HttpResponseError as exc:
        status = exc.status_code or 0
        if status in _AUTH_STATUSES or status == 429 or isinstance(exc, ClientAuthenticationError):
            raise
        message = f"versions listing failed: HTTP {status} {exc.reason or ''}".strip()
        result.add_error("versions_unavailable", message, secret_id)
        return None
    if bad:
        result.add_error("malformed_item", f"unreadable created time on version(s) {', '.join(bad)[:1000]}", secret_id)
    return count, newest


# ------------------------------------------------------------------------------ mapping


def _safe_get(props: Any, attribute: str) -> Any:
    """SDK properties deserialize lazily and raise on some malformed values; treat that as bad."""
    try:
        return getattr(props, attribute)
    except Exception:  # noqa: BLE001
        return _Unreadable


class _Unreadable:
    """Marker for a value the SDK could not read."""


def _record_from_properties(
    props: Any, raw: Any, vault_url: str, result: CollectionResult
) -> CredentialRecord | None:
    """Map one secret's properties; None (and an error) when the item has no usable id."""
    name = _safe_get(props, "name")
    item_vault = _safe_get(props, "vault_url")
    if not isinstance(name, str) or not name or not isinstance(item_vault, str) or not item_vault:
        raw_id = _safe_get(props, "id")
        label = raw_id if isinstance(raw_id, str) else "(no id)"
        result.add_error("malformed_item", "secret item without a usable id; skipped", label)
        return None
    external_id = f"{item_vault.rstrip('/')}/secrets/{name}"
    bad = _raw_flag_problems(raw)

    def timestamp(attribute: str, label: str) -> datetime | None:
        value = _safe_get(props, attribute)
        if value is None:
            return None
        if isinstance(value, datetime) and value.tzinfo is not None:
            return value.astimezone(timezone.utc)
        bad.append(label)
        return None

    def typed(attribute: str, label: str, kind: type) -> Any:
        value = _safe_get(props, attribute)
        if label in bad:
            return None
        if value is None or isinstance(value, kind):
            return value
        bad.append(label)
        return None

    created = timestamp("created_on", "created")
    updated = timestamp("updated_on", "updated")
    expires = timestamp("expires_on", "exp")
    not_before = timestamp("not_before", "nbf")
    enabled = typed("enabled", "enabled", bool)
    managed = typed("managed", "managed", bool)
    content_type = typed("content_type", "contentType", str)
    recovery_level = _safe_get(props, "recovery_level")
    recovery_level = getattr(recovery_level, "value", recovery_level)
    if recovery_level is not None and not isinstance(recovery_level, str):
        bad.append("recoveryLevel")
        recovery_level = None
    tags = _safe_get(props, "tags")
    if tags is None:
        tags = {}
    elif isinstance(tags, dict):
        # Verbatim: formula-like or markup values are escaped where they are rendered.
        tags = {str(k): "" if v is None else str(v) for k, v in tags.items()}
    else:
        bad.append("tags")
        tags = {}

    attributes: dict[str, Any] = {
        "content_type": content_type,
        "managed": managed,
        "recovery_level": recovery_level,
        "vault_url": vault_url,
    }
    if bad:
        attributes["malformed_fields"] = bad
        result.add_error("malformed_item", f"unreadable field(s) {', '.join(bad)}; kept as unknown", external_id)
    return CredentialRecord(
        external_id=external_id,
        credential_type=CredentialKind.KV_SECRET.value,
        name=name,
        enabled=enabled,
        created_at=created,
        last_rotated_at=updated,  # replaced by the newest version's created time when known
        last_changed_at=updated,
        expires_at=expires,
        not_before=not_before,
        tags=tags,
        attributes=attributes,
    )


def _raw_flag_problems(raw: Any) -> list[str]:
    """The flags the SDK would coerce to bool without complaint: ``"false"`` reads as True."""
    if not isinstance(raw, dict):
        return []
    attributes = raw.get("attributes")
    enabled = attributes.get("enabled") if isinstance(attributes, dict) else None
    problems = []
    if enabled is not None and not isinstance(enabled, bool):
        problems.append("enabled")
    if raw.get("managed") is not None and not isinstance(raw.get("managed"), bool):
        problems.append("managed")
    return problems


# --------------------------------------------------------------------------- state, time


def _epoch(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp())


def _load_state(previous_state: dict | None) -> dict[str, list[Any]]:
    """The per-secret entries of a previous state; anything unrecognised counts as none."""
    if not isinstance(previous_state, dict) or previous_state.get("v") != STATE_VERSION:
        return {}
    secrets = previous_state.get("secrets")
    if not isinstance(secrets, dict):
        return {}
    loaded = {}
    for secret_id, entry in secrets.items():
        if (
            isinstance(entry, list)
            and len(entry) == 3
            and isinstance(entry[0], int)
            and isinstance(entry[1], int)
            and (entry[2] is None or isinstance(entry[2], int))
        ):
            loaded[secret_id] = entry
    return loaded


# ------------------------------------------------------------------------------- errors


@contextmanager
def _vault_errors(vault_url: str) -> Iterator[None]:
    """Turn SDK and transport exceptions into ConnectorError codes."""
    try:
        yield
    except ConnectorError:
        raise
    except Exception as exc:
        mapped = _to_connector_error(exc, vault_url)
        if mapped is None:
            raise  # a bug, not a vault problem: let it surface with its traceback
        raise mapped from exc


def _to_connector_error(exc: Exception, vault_url: str) -> ConnectorError | None:
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
        if status in _AUTH_STATUSES:
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
    import requests

    inner = getattr(exc, "inner_exception", None)
    return isinstance(inner, (ssl.SSLError, requests.exceptions.SSLError))


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:500]
