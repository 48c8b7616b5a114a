"""Azure Key Vault keys and certificates: their attributes and policies, never a key or a certificate.

Two connectors, each its own collection unit of an ``azure_key_vault`` source beside the
secrets unit (:mod:`apps.connectors.azure.key_vault`), so that an identity allowed to list
secrets but not keys (or certificates) leaves only that unit failed and the rules it feeds
not assessed, named by its scope, while the others are collected. Calls (data plane, through
:mod:`apps.connectors.azure.client`, which refuses everything else):

* keys: ``list_properties_of_keys`` (``GET /keys``, paged) and, per key,
  ``get_key_rotation_policy`` (``GET /keys/{name}/rotationpolicy``).
* certificates: ``list_properties_of_certificates`` (``GET /certificates``, paged) and, per
  certificate, ``get_certificate_policy`` (``GET /certificates/{name}/policy``): issuer,
  lifetime actions (auto-renew), validity, subject.

The listing shows each item's current version, whose ``created`` is when it was last rotated
or renewed; the versions listings are not needed for that and are not called. ``GET
/keys/{name}`` (the public key) and ``GET /certificates/{name}`` (the certificate) are never
sent, nor the secret backing a certificate (``GET /secrets/{name}``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from typing import Any, ClassVar

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
)

from apps.connectors.azure.client import vault_client
from apps.connectors.azure.errors import AUTH_STATUSES, vault_errors
from apps.connectors.azure.properties import iter_listing, record_from_properties, safe_get
from apps.connectors.azure.source import KeyVault
from apps.connectors.base import (
    CollectionResult,
    Connector,
    ConnectorError,
    CredentialRecord,
    SourceConfig,
    Target,
)
from apps.connectors.kinds import CredentialKind

STATE_VERSION = 1
# ISO 8601 durations as Key Vault writes them in policies: P90D, P1Y, P2Y6M, P12W.
_DURATION = re.compile(r"^P(?:(\d{1,4})Y)?(?:(\d{1,5})M)?(?:(\d{1,5})W)?(?:(\d{1,6})D)?$")


def duration_days(value: Any) -> int | None:
    """Whole days of an ISO 8601 date duration (a year 365 days, a month 30), or None when
    ``value`` is not one (a time part, a negative, an empty ``P``, not text)."""
    if not isinstance(value, str):
        return None
    match = _DURATION.match(value.strip().upper())
    if match is None or not any(match.groups()):
        return None
    years, months, weeks, days = (int(g) if g else 0 for g in match.groups())
    return years * 365 + months * 30 + weeks * 7 + days


def _text(value: Any) -> str | None:
    value = getattr(value, "value", value)  # the SDK's enums
    return value if isinstance(value, str) else None


class _VaultItemsConnector(Connector):
    """Shared collection of one vault's keys or certificates: list, then one policy per item."""

    source = KeyVault
    collection: ClassVar[str] = ""  # "keys" | "certificates"
    credential_type: ClassVar[str] = ""

    @classmethod
    def targets(cls, config: SourceConfig) -> list[Target]:
        """One unit per vault."""
        return [Target(kind=cls.kind, source_key=config.vault_url, vault_url=config.vault_url)]

    def collect(self, target: Target, *, previous_state: dict | None = None) -> CollectionResult:
        """Return one CredentialRecord per item, with its policy's facts.

        Raises ConnectorError with the codes of the secrets connector (``auth_refused`` for a
        403 on the listing or on a policy: the identity may not read this vault's keys or
        certificates; ``throttled``, ``unreachable``, ``server_error``, ``malformed_response``,
        ``tls_error``, ``not_found``, ``http_error``, ``bad_target``, ``config_error``).
        An item whose policy cannot be read is kept with its policy facts unknown and
        recorded in ``result.errors``.
        """
        vault_url = (target.vault_url or target.source_key).strip().rstrip("/")
        if not vault_url.lower().startswith("https://"):
            raise ConnectorError(f"not an https vault URL: {vault_url!r}", code="bad_target")
        result = CollectionResult(target=target)
        seen: set[str] = set()
        with vault_errors(vault_url):
            with vault_client(self.collection, vault_url, api_calls=result.api_calls) as (client, policy):
                records: list[CredentialRecord] = []
                for props, raw in iter_listing(self._list_call(client), policy, f"{self.collection} listing"):
                    record = record_from_properties(
                        props, raw, vault_url, result, collection=self.collection, credential_type=self.credential_type
                    )
                    if record is None:
                        continue
                    if record.external_id in seen:
                        result.add_error("duplicate_item", f"{self.collection[:-1]} listed twice; kept the first", record.external_id)
                        continue
                    seen.add(record.external_id)
                    # The listing shows the current version: its creation is the last rotation/renewal.
                    record.last_rotated_at = record.created_at
                    self._item_facts(props, record)
                    records.append(record)
                for record in records:
                    answer = self._read_policy(partial(self._policy_call, client, record.name), record, result)
                    self._apply_policy(answer, record, result)
                result.credentials = records
        result.state = {"v": STATE_VERSION}
        return result

    def _read_policy(self, call: Callable[[], Any], record: CredentialRecord, result: CollectionResult) -> Any:
        """The item's policy, or None after recording an item error (vault-wide failures raise)."""
        try:
            return call()
        except ResourceNotFoundError:
            result.add_error("item_vanished", f"{self.collection[:-1]} disappeared before its policy was read", record.external_id)
            return None
        except HttpResponseError as exc:
            status = exc.status_code or 0
            if status in AUTH_STATUSES or status == 429 or status >= 500 or isinstance(exc, ClientAuthenticationError):
                raise
            result.add_error("policy_unavailable", f"policy not read: HTTP {status} {exc.reason or ''}".strip(), record.external_id)
            return None
        except ConnectorError as exc:
            if exc.code != "malformed_response":
                raise
            result.add_error("malformed_policy", f"policy unreadable: {exc}", record.external_id)
            return None
        except Exception as exc:  # noqa: BLE001 - the SDK's model code raises anything on a malformed body
            if type(exc).__module__.startswith(("azure.core.exceptions", "requests", "ssl")):
                raise
            result.add_error("malformed_policy", f"policy unreadable: {type(exc).__name__}: {str(exc)[:300]}", record.external_id)
            return None

    def _list_call(self, client: Any) -> Callable[..., Any]:
        raise NotImplementedError

    def _policy_call(self, client: Any, name: str) -> Any:
        raise NotImplementedError

    def _item_facts(self, props: Any, record: CredentialRecord) -> None:
        """Facts of the listing beyond the common ones (none by default)."""

    def _apply_policy(self, policy: Any, record: CredentialRecord, result: CollectionResult) -> None:
        raise NotImplementedError


class KeyVaultKeysConnector(_VaultItemsConnector):
    """Collects key metadata and rotation policies from one vault (``target.vault_url``).

    A key's ``rotation_enabled`` is True when its rotation policy has a ``Rotate`` action
    (the service's default policy, which every key without one answers, has only
    ``Notify``), False when it has none, None when the policy could not be read.
    ``rotation_interval_days`` is the Rotate trigger's time after creation, or the policy's
    expiry time less its time before expiry; None when neither can be read.
    """

    kind = "azure_key_vault_keys"
    collection = "keys"
    credential_type = CredentialKind.KV_KEY.value
    credential_kinds = (CredentialKind.KV_KEY,)

    def _list_call(self, client: Any) -> Callable[..., Any]:
        return client.list_properties_of_keys

    def _policy_call(self, client: Any, name: str) -> Any:
        return client.get_key_rotation_policy(name)

    def _apply_policy(self, policy: Any, record: CredentialRecord, result: CollectionResult) -> None:
        attrs = record.attributes
        attrs.update(rotation_policy=None, rotation_trigger=None, policy_expiry_time=None)
        if policy is None:
            return  # item error recorded: rotation unknown
        actions = safe_get(policy, "lifetime_actions")
        expiry_text = _text(safe_get(policy, "expires_in"))
        if not isinstance(actions, list):
            actions = None if actions is not None else []
        problems: list[str] = []
        if expiry_text is not None:
            attrs["policy_expiry_time"] = expiry_text
            if duration_days(expiry_text) is None:
                problems.append(f"expiry time {expiry_text[:40]!r}")
        if actions is None:
            problems.append("lifetime actions")
        rotate: list[Any] = []
        for action in actions or []:
            kind = _text(safe_get(action, "action"))
            if kind is None:
                problems.append("an action without a type")
            elif kind.lower() == "rotate":
                rotate.append(action)
        if problems:
            attrs["policy_errors"] = problems
            result.add_error("malformed_policy", f"rotation policy unreadable: {', '.join(problems)}", record.external_id)
            return
        if not rotate:
            attrs["rotation_policy"] = "absent"
            record.rotation_enabled = False
            return
        attrs["rotation_policy"] = "present"
        record.rotation_enabled = True
        intervals: list[int] = []
        triggers: list[str] = []
        for action in rotate:
            after = _text(safe_get(action, "time_after_create"))
            before = _text(safe_get(action, "time_before_expiry"))
            if after is not None:
                triggers.append(f"{after} after creation")
                days = duration_days(after)
            elif before is not None:
                triggers.append(f"{before} before expiry")
                total, ahead = duration_days(expiry_text), duration_days(before)
                days = total - ahead if total is not None and ahead is not None and total > ahead else None
            else:
                triggers.append("no trigger")
                days = None
            if days is not None:
                intervals.append(days)
        attrs["rotation_trigger"] = "; ".join(triggers)
        # Several Rotate actions: the key is rotated by whichever comes first.
        record.rotation_interval_days = min(intervals) if intervals else None
        if not intervals:
            attrs["policy_errors"] = ["rotation interval"]
            result.add_error("malformed_policy", f"rotation interval unreadable: {attrs['rotation_trigger'][:200]}", record.external_id)


class KeyVaultCertificatesConnector(_VaultItemsConnector):
    """Collects certificate metadata and policies from one vault (``target.vault_url``).

    ``attributes["auto_renew"]`` (also ``rotation_enabled``) is True when a lifetime action
    is ``AutoRenew``, False when the policy has none, None when it could not be read.
    """

    kind = "azure_key_vault_certificates"
    collection = "certificates"
    credential_type = CredentialKind.KV_CERTIFICATE.value
    credential_kinds = (CredentialKind.KV_CERTIFICATE,)

    def _list_call(self, client: Any) -> Callable[..., Any]:
        return client.list_properties_of_certificates

    def _policy_call(self, client: Any, name: str) -> Any:
        return client.get_certificate_policy(name)

    def _item_facts(self, props: Any, record: CredentialRecord) -> None:
        thumbprint = safe_get(props, "x509_thumbprint")
        if isinstance(thumbprint, bytes):
            record.attributes["thumbprint"] = thumbprint.hex().upper()
        elif isinstance(thumbprint, str):
            record.attributes["thumbprint"] = thumbprint[:100]

    def _apply_policy(self, policy: Any, record: CredentialRecord, result: CollectionResult) -> None:
        attrs = record.attributes
        attrs.update(issuer=None, auto_renew=None, lifetime_actions=None, validity_months=None, subject=None)
        if policy is None:
            return
        issuer = _text(safe_get(policy, "issuer_name"))
        subject = _text(safe_get(policy, "subject"))
        validity = safe_get(policy, "validity_in_months")
        attrs["issuer"] = issuer[:200] if issuer else None
        attrs["subject"] = subject[:500] if subject else None
        attrs["validity_months"] = validity if isinstance(validity, int) and not isinstance(validity, bool) else None
        actions = safe_get(policy, "lifetime_actions")
        if actions is None:
            actions = []
        if not isinstance(actions, list):
            attrs["policy_errors"] = ["lifetime actions"]
            result.add_error("malformed_policy", "certificate policy: lifetime actions unreadable", record.external_id)
            return
        described: list[str] = []
        auto_renew = False
        for action in actions:
            kind = _text(safe_get(action, "action"))
            percentage = safe_get(action, "lifetime_percentage")
            days = safe_get(action, "days_before_expiry")
            if isinstance(percentage, int) and not isinstance(percentage, bool):
                when = f"at {percentage}% of lifetime"
            elif isinstance(days, int) and not isinstance(days, bool):
                when = f"{days} days before expiry"
            else:
                when = "no trigger"
            described.append(f"{kind or '?'} {when}")
            if kind is not None and kind.lower() == "autorenew":
                auto_renew = True
        attrs["lifetime_actions"] = "; ".join(described)
        attrs["auto_renew"] = auto_renew
        record.rotation_enabled = auto_renew
