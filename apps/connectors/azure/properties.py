"""Reading Key Vault listings into records: pages (with a raw-JSON fallback for items the
SDK cannot parse), secret versions, and one secret's properties as a ``CredentialRecord``
whose every value is checked (a malformed field is kept as unknown and reported)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    DecodeError,
    HttpResponseError,
    ResourceNotFoundError,
)

from apps.connectors.azure.client import ApiCallPolicy
from apps.connectors.azure.errors import AUTH_STATUSES
from apps.connectors.base import CollectionResult, ConnectorError, CredentialRecord
from apps.connectors.kinds import CredentialKind


def epoch(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp())


# ------------------------------------------------------------------------------ listing


def iter_listing(list_call: Callable[..., Any], policy: ApiCallPolicy, what: str) -> Iterator[tuple[Any, Any]]:
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
        yield from zip(page, raw_items, strict=True)


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
    validation: :func:`record_from_properties` checks every value either way."""

    def __init__(self, item: Any) -> None:
        item = item if isinstance(item, dict) else {"_not_an_object": item}
        attributes = item.get("attributes")
        if attributes is None:
            attributes = {}
        elif not isinstance(attributes, dict):  # every attribute is unreadable, not unset
            attributes = dict.fromkeys(("enabled", "created", "updated", "exp", "nbf", "recoveryLevel"), _Unreadable)
        # Secrets and certificates are named by "id", keys by "kid".
        self.id = item.get("id") if "id" in item else item.get("kid")
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
        self.x509_thumbprint = item.get("x5t")


def _from_epoch_or_raw(value: Any) -> Any:
    if isinstance(value, bool):
        return value  # not a timestamp; flagged by the mapper
    if isinstance(value, (int, float)):
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return value
    return value


def fetch_versions(
    client: Any, policy: ApiCallPolicy, name: str, secret_id: str, result: CollectionResult
) -> tuple[int, int | None] | None:
    """Return ``(version_count, newest_created_epoch)``, or None after recording an item error.

    Auth refusal, throttling and connection failures still raise: they concern the vault.
    """
    count = 0
    newest: int | None = None
    bad: list[str] = []
    try:
        for version, _raw in iter_listing(
            lambda **kw: client.list_properties_of_secret_versions(name, **kw), policy, f"versions of {secret_id}"
        ):
            count += 1
            created = safe_get(version, "created_on")
            if isinstance(created, datetime):
                created_s = int(created.timestamp())
                newest = created_s if newest is None else max(newest, created_s)
            elif created is not None:
                bad.append(str(safe_get(version, "id") or "?"))
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
        if status in AUTH_STATUSES or status == 429 or isinstance(exc, ClientAuthenticationError):
            raise
        message = f"versions listing failed: HTTP {status} {exc.reason or ''}".strip()
        result.add_error("versions_unavailable", message, secret_id)
        return None
    if bad:
        result.add_error("malformed_item", f"unreadable created time on version(s) {', '.join(bad)[:1000]}", secret_id)
    return count, newest


# ------------------------------------------------------------------------------ mapping


def safe_get(props: Any, attribute: str) -> Any:
    """SDK properties deserialize lazily and raise on some malformed values; treat that as bad."""
    try:
        return getattr(props, attribute)
    except Exception:  # noqa: BLE001
        return _Unreadable


class _Unreadable:
    """Marker for a value the SDK could not read."""


def record_from_properties(
    props: Any,
    raw: Any,
    vault_url: str,
    result: CollectionResult,
    *,
    collection: str = "secrets",
    credential_type: str = CredentialKind.KV_SECRET.value,
) -> CredentialRecord | None:
    """Map one secret's (key's, certificate's: ``collection``) properties; None (and an error)
    when the item has no usable id."""
    name = safe_get(props, "name")
    item_vault = safe_get(props, "vault_url")
    if not isinstance(name, str) or not name or not isinstance(item_vault, str) or not item_vault:
        raw_id = safe_get(props, "id")
        label = raw_id if isinstance(raw_id, str) else "(no id)"
        result.add_error("malformed_item", f"{collection[:-1]} item without a usable id; skipped", label)
        return None
    external_id = f"{item_vault.rstrip('/')}/{collection}/{name}"
    bad = _raw_flag_problems(raw)

    def timestamp(attribute: str, label: str) -> datetime | None:
        value = safe_get(props, attribute)
        if label in bad:
            return None
        if value is None:
            return None
        if isinstance(value, datetime) and value.tzinfo is not None:
            return value.astimezone(UTC)
        bad.append(label)
        return None

    def typed(attribute: str, label: str, kind: type) -> Any:
        value = safe_get(props, attribute)
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
    managed = typed("managed", "managed", bool) if collection != "certificates" else None  # certificates have no "managed"
    content_type = typed("content_type", "contentType", str) if collection == "secrets" else None
    recovery_level = safe_get(props, "recovery_level")
    recovery_level = getattr(recovery_level, "value", recovery_level)
    if recovery_level is not None and not isinstance(recovery_level, str):
        bad.append("recoveryLevel")
        recovery_level = None
    tags = safe_get(props, "tags")
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
    if collection != "secrets":
        del attributes["content_type"]
    if collection == "certificates":
        del attributes["managed"]
    if bad:
        attributes["malformed_fields"] = bad
        result.add_error("malformed_item", f"unreadable field(s) {', '.join(bad)}; kept as unknown", external_id)
    return CredentialRecord(
        external_id=external_id,
        credential_type=credential_type,
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


_RAW_DATES = ("created", "updated", "exp", "nbf")


def _raw_flag_problems(raw: Any) -> list[str]:
    """What the SDK would coerce without complaint: a flag of ``"false"`` reads as True, a date of
    ``true`` as one second after the epoch. Such fields are kept as unknown and reported."""
    if not isinstance(raw, dict):
        return []
    attributes = raw.get("attributes")
    attributes = attributes if isinstance(attributes, dict) else {}
    enabled = attributes.get("enabled")
    problems = []
    for label in _RAW_DATES:
        value = attributes.get(label)
        if isinstance(value, bool):
            problems.append(label)
    if enabled is not None and not isinstance(enabled, bool):
        problems.append("enabled")
    if raw.get("managed") is not None and not isinstance(raw.get("managed"), bool):
        problems.append("managed")
    return problems
