"""Azure Key Vault connector: every secret's properties in one vault, never a value.

Calls (data plane, through :mod:`apps.connectors.azure.client`):

* ``list_properties_of_secrets`` — ``GET /secrets``, 25 per page; always made.
* ``list_properties_of_secret_versions`` — ``GET /secrets/{name}/versions``, once per
  secret that is new or whose ``updated`` changed since ``previous_state``; it gives the
  version count and the newest version's creation time (the last rotation). These run on
  ``AZURE_KEY_VAULT_VERSION_CONCURRENCY`` threads (default 4), a batch of the listing at a time
  (the records are handed on in batches, ADR 0014).

``CollectionResult.state`` is ``{"v": 1, "secrets": {secret_id: [updated, version_count,
newest_version_created]}}`` (Unix seconds, ``newest_version_created`` may be null), so an
unchanged vault costs only the paged list calls.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from django.conf import settings

from apps.connectors.azure.client import ApiCallPolicy, secret_client
from apps.connectors.azure.errors import vault_errors
from apps.connectors.azure.properties import (
    epoch,
    fetch_versions,
    iter_listing,
    record_from_properties,
)
from apps.connectors.azure.source import KeyVault
from apps.connectors.base import (
    STREAM_BATCH_RECORDS,
    Batch,
    CollectionResult,
    Connector,
    ConnectorError,
    CredentialRecord,
    SourceConfig,
    Target,
)
from apps.connectors.kinds import CredentialKind

STATE_VERSION = 1
# Below this many secrets needing a versions call, one client does them in turn.
VERSIONS_CONCURRENCY_THRESHOLD = 100


class KeyVaultConnector(Connector):
    """Collects secret metadata from one vault (``target.vault_url``)."""

    kind = "azure_key_vault"
    source = KeyVault
    credential_kinds = (CredentialKind.KV_SECRET,)
    streams = True

    @classmethod
    def targets(cls, config: SourceConfig) -> list[Target]:
        """One unit: the vault."""
        return [Target(kind=cls.kind, source_key=config.vault_url, vault_url=config.vault_url)]

    def collect_stream(self, target: Target, *, previous_state: dict | None = None) -> CollectionResult:
        """Return a result whose stream holds one ``kv_secret`` CredentialRecord per secret, in
        batches (ADR 0014), and whose state (for next time) is set after the last batch.

        Raises ConnectorError (here, or while the stream is read) with code ``auth_refused`` (401/403, a credential that
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
        result.stream = self._stream(result, vault_url, _load_state(previous_state))
        return result

    def _stream(self, result: CollectionResult, vault_url: str, known: dict[str, list[Any]]) -> Iterator[Batch]:
        """The listing, a batch of records at a time, each with its version facts; the state last."""
        state: dict[str, list[Any]] = {}
        seen: set[str] = set()
        with vault_errors(vault_url):
            with secret_client(vault_url, api_calls=result.api_calls) as (client, policy):
                listing = iter_listing(client.list_properties_of_secrets, policy, "secret listing")
                chunk: list[CredentialRecord] = []
                pending: list[CredentialRecord] = []
                for props, raw in listing:
                    record = record_from_properties(props, raw, vault_url, result)
                    if record is None:
                        continue
                    if record.external_id in seen:
                        result.add_error("duplicate_item", "secret listed twice; kept the first", record.external_id)
                        continue
                    seen.add(record.external_id)
                    if not self._reuse_version_facts(record, known, state):
                        pending.append(record)
                    chunk.append(record)
                    if len(chunk) >= STREAM_BATCH_RECORDS:
                        yield self._versioned(vault_url, client, policy, chunk, pending, result, state)
                        chunk, pending = [], []
                if chunk:
                    yield self._versioned(vault_url, client, policy, chunk, pending, result, state)
        result.state = {"v": STATE_VERSION, "secrets": state}

    def _versioned(
        self,
        vault_url: str,
        client: Any,
        policy: ApiCallPolicy,
        chunk: list[CredentialRecord],
        pending: list[CredentialRecord],
        result: CollectionResult,
        state: dict[str, list[Any]],
    ) -> Batch:
        fetched = self._fetch_all_versions(vault_url, client, policy, pending, result)
        for record in pending:
            if record.external_id in fetched:
                _set_version_facts(record, *fetched[record.external_id], state)
            # else: recorded as an item error; keep updated_on, store no state: retried next time
        return Batch(credentials=chunk)

    @staticmethod
    def _reuse_version_facts(record: CredentialRecord, known: dict[str, list[Any]], state: dict[str, list[Any]]) -> bool:
        """Set version_count and last_rotated_at from previous state when ``updated`` is unchanged."""
        updated = epoch(record.last_changed_at)
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
        workers = max(1, min(int(getattr(settings, "AZURE_KEY_VAULT_VERSION_CONCURRENCY", 4)), len(records)))
        if workers == 1 or len(records) < VERSIONS_CONCURRENCY_THRESHOLD:
            fetched: dict[str, tuple[int, int | None]] = {}
            for record in records:
                answer = fetch_versions(client, policy, record.name, record.external_id, result)
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
                    answer = fetch_versions(client, policy, record.name, record.external_id, scratch)
                    if answer is not None:
                        out[record.external_id] = answer
            return out, calls, scratch.errors

        fetched = {}
        errors: list[dict[str, str]] = []
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="keytrail-kv") as pool:
            for out, calls, chunk_errors in pool.map(run, chunks):
                fetched.update(out)
                result.api_calls.update(calls)
                errors += chunk_errors
        position = {record.external_id: i for i, record in enumerate(records)}
        result.errors += sorted(errors, key=lambda e: position.get(e["item"], len(position)))
        return fetched


def _set_version_facts(record: CredentialRecord, count: int, newest: int | None, state: dict[str, list[Any]]) -> None:
    record.attributes["version_count"] = count
    if newest is not None:
        record.last_rotated_at = datetime.fromtimestamp(newest, tz=UTC)
    updated = epoch(record.last_changed_at)
    if updated is not None:
        state[record.external_id] = [updated, count, newest]


# --------------------------------------------------------------------------- state


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
