"""Applying one unit's CollectionResult to the inventory, in one transaction.

Either the whole scope's new state is written (new rows, changed rows with a new version,
disappeared rows closed) together with its Snapshot, or nothing is: the caller wraps this
in ``transaction.atomic``. Only rows of the unit's own scope are touched, so a failed unit
of another region or vault never loses what was collected before.

Records are applied in bounded batches (ADR 0014): a streaming connector's batches as they
come, a list-returning connector's lists in slices (all identities first, then the
credentials). Which records are new or changed is decided in the database
(:mod:`.diff`); only those are built into rows, so memory follows the batch, not the estate.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from apps.connectors.base import (
    AS_OF_ATTRIBUTES,
    STREAM_BATCH_RECORDS,
    CollectionResult,
    CredentialRecord,
    IdentityRecord,
    as_jsonable,
)
from apps.core.bulk import bulk_insert_objects
from apps.core.canonical import canonical_json
from apps.core.text import storable, storable_tree
from apps.inventory.fact_revision import events_of_renewed_rows
from apps.inventory.models import (
    CollectionUnit,
    Credential,
    CredentialEvent,
    CredentialVersion,
    Identity,
    IdentityVersion,
    Snapshot,
)
from apps.inventory.services.diff import SeenSet
from apps.inventory.tags import owner_from

MAX_EXTERNAL_ID = 2048
# Names are keys of the lists' indexes (credential_list_order_idx, identity_list_order_idx), and
# a btree entry holds at most ~2,700 bytes: a longer name, which no cloud allows (IAM 128,
# Secrets Manager 512, Key Vault 127 characters), is refused as an item instead of failing the unit.
MAX_NAME_BYTES = 2000
_CRED_FIELDS = [
    "name",
    "identity_id",
    "enabled",
    "created_at",
    "last_rotated_at",
    "last_used_at",
    "last_changed_at",
    "expires_at",
    "not_before",
    "rotation_enabled",
    "rotation_interval_days",
    "next_rotation_at",
    "deleted_at",
    "owner",
    "tags",
    "attributes",
    "fingerprint",
    "disappeared_at",
]
_IDENTITY_FIELDS = ["name", "kind", "created_at", "privileged", "mfa_active", "owner", "tags", "data", "fingerprint", "disappeared_at"]


@dataclass
class ApplyCounts:
    identities: int = 0
    credentials: int = 0
    created: int = 0
    changed: int = 0
    unchanged: int = 0
    disappeared: int = 0
    reappeared: int = 0
    skipped: int = 0
    events: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _fingerprint(data: dict) -> str:
    attributes = data.get("attributes")
    if isinstance(attributes, dict) and not AS_OF_ATTRIBUTES.isdisjoint(attributes):
        # "As of" stamps are not metadata: unchanged facts from a newer report are unchanged.
        data = {**data, "attributes": {k: v for k, v in attributes.items() if k not in AS_OF_ATTRIBUTES}}
    return hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()


def name_too_long(name) -> bool:
    # As stored: storable() writes an unstorable character as an escape of up to six bytes.
    return isinstance(name, str) and len(name) > MAX_NAME_BYTES // 6 and len(storable(name).encode("utf-8")) > MAX_NAME_BYTES


def _identity_data(rec: IdentityRecord) -> dict:
    data = storable_tree(as_jsonable(rec))
    data.pop("external_id", None)
    return data


def _credential_data(rec: CredentialRecord) -> dict:
    data = storable_tree(as_jsonable(rec))
    data.pop("external_id", None)
    data.pop("credential_type", None)
    return data


def _classify_change(old: dict, new: dict) -> str:
    if old.get("enabled") is True and new.get("enabled") is False:
        return CredentialEvent.Kind.DEACTIVATED
    if old.get("enabled") is False and new.get("enabled") is True:
        return CredentialEvent.Kind.REACTIVATED
    if new.get("last_rotated_at") and new.get("last_rotated_at") != old.get("last_rotated_at"):
        return CredentialEvent.Kind.ROTATED
    return CredentialEvent.Kind.CHANGED


def _changed_fields(old: dict, new: dict) -> list[str]:
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


def inventory_apply(
    *, unit: CollectionUnit, result: CollectionResult, taken_at: datetime, batch_records: int = STREAM_BATCH_RECORDS
) -> tuple[Snapshot, ApplyCounts]:
    """Write ``result`` as the new state of ``unit``'s scope. Call inside transaction.atomic.

    Consumes ``result``'s stream, if any; a failure raised from it propagates (the caller's
    transaction then writes nothing)."""
    applier = _Applier(unit, taken_at)
    for kind, chunk in _chunks(result, batch_records):
        if kind == "i":
            applier.identities(chunk, result)
        else:
            applier.credentials(chunk, result)
    return applier.finish(result)


def _chunks(result: CollectionResult, size: int) -> Iterator[tuple[str, list]]:
    """("i", identities) and ("c", credentials) slices of at most ``size`` records, batch by
    batch; a list-returning connector's lists come as one batch (every identity first)."""
    size = max(size, 1)
    for batch in result.batches():
        for kind, records in (("i", batch.identities), ("c", batch.credentials)):
            for start in range(0, len(records), size):
                yield kind, records[start : start + size]


class _Applier:
    def __init__(self, unit: CollectionUnit, taken_at: datetime):
        self.source = unit.source
        self.scope = unit.scope
        self.taken_at = taken_at
        self.counts = ApplyCounts()
        self.batch = 0
        # A record repeated in a later batch is refused as an item: the keys of earlier batches
        # are looked up in the seen set's temporary tables (not held here, one per record).
        self.credential_types = set(Credential.Type.values)  # a property that builds a list on each access
        self.snapshot = Snapshot.objects.create(unit=unit, source=self.source, scope=self.scope, taken_at=taken_at, content_sha256="")
        self.seen = SeenSet(source_id=self.source.pk, scope=self.scope)

    # Identities ---------------------------------------------------------------------------
    def identities(self, chunk: list[IdentityRecord], result: CollectionResult) -> None:
        records: dict[str, IdentityRecord] = {}
        earlier = self.seen.identities_seen(
            {storable(r.external_id) for r in chunk if r.external_id and len(r.external_id) <= MAX_EXTERNAL_ID}
        )
        for rec in chunk:
            if not rec.external_id or len(rec.external_id) > MAX_EXTERNAL_ID:
                result.add_error(
                    "invalid_item", f"identity id missing or longer than {MAX_EXTERNAL_ID} characters", item=str(rec.external_id)[:200]
                )
                self.counts.skipped += 1
                continue
            if name_too_long(rec.name):
                result.add_error("invalid_item", f"identity name longer than {MAX_NAME_BYTES} bytes", item=str(rec.external_id)[:200])
                self.counts.skipped += 1
                continue
            key = storable(rec.external_id)
            if key in earlier:
                result.add_error("invalid_item", "identity listed twice; the first was kept", item=key[:200])
                self.counts.skipped += 1
                continue
            records[key] = rec
        if not records:
            return
        self.batch += 1
        data_fp = {}
        for key, rec in records.items():
            data = _identity_data(rec)
            data_fp[key] = (data, _fingerprint(data))
        changes = self.seen.identity_changes(self.batch, [(key, fp) for key, (_, fp) in data_fp.items()])
        self.counts.identities += len(records)
        if not changes:
            return
        taken_at, source, scope = self.taken_at, self.source, self.scope
        new_rows, changed_rows = [], []
        for key, pk, _gone in changes:
            rec, (data, fp) = records[key], data_fp[key]
            tags = data.get("tags") or {}
            values = {
                "name": data["name"],
                "kind": rec.kind if rec.kind in Identity.Kind.values else Identity.Kind.SERVICE,
                "created_at": rec.created_at,
                "privileged": rec.privileged,
                "mfa_active": rec.mfa_active,
                "owner": storable(owner_from(tags, data.get("attributes"))),
                "tags": tags,
                "data": {k: data[k] for k in ("groups", "policies", "mfa_devices", "attributes") if k in data},
                "fingerprint": fp,
                "disappeared_at": None,
            }
            if pk is None:
                new_rows.append(Identity(source=source, scope=scope, external_id=key, first_seen_at=taken_at, **values))
            else:
                row = Identity(pk=pk, source=source, scope=scope, external_id=key, **values)
                row._state.adding = False
                changed_rows.append(row)
        _insert_and_number(Identity, new_rows, Identity.objects.filter(source=source), ("external_id",))
        Identity.objects.bulk_update(changed_rows, _IDENTITY_FIELDS, batch_size=1000)
        if changed_rows:
            IdentityVersion.objects.filter(identity_id__in=[r.pk for r in changed_rows], valid_to__isnull=True).update(valid_to=taken_at)
        bulk_insert_objects(
            IdentityVersion,
            [
                IdentityVersion(
                    identity=row,
                    data=data_fp[row.external_id][0],
                    fingerprint=row.fingerprint,
                    valid_from=taken_at,
                    first_snapshot=self.snapshot,
                )
                for row in [*new_rows, *changed_rows]
            ],
        )

    # Credentials --------------------------------------------------------------------------
    def credentials(self, chunk: list[CredentialRecord], result: CollectionResult) -> None:
        counts = self.counts
        records: dict[tuple[str, str], CredentialRecord] = {}
        earlier = self.seen.credentials_seen(
            {
                (r.credential_type, storable(r.external_id))
                for r in chunk
                if r.external_id and len(r.external_id) <= MAX_EXTERNAL_ID and r.credential_type in self.credential_types
            }
        )
        for rec in chunk:
            if not rec.external_id or len(rec.external_id) > MAX_EXTERNAL_ID or rec.credential_type not in self.credential_types:
                result.add_error("invalid_item", "credential id missing, too long, or of an unknown type", item=str(rec.external_id)[:200])
                counts.skipped += 1
                continue
            if name_too_long(rec.name):
                result.add_error("invalid_item", f"credential name longer than {MAX_NAME_BYTES} bytes", item=str(rec.external_id)[:200])
                counts.skipped += 1
                continue
            key = (rec.credential_type, storable(rec.external_id))
            if key in earlier:
                result.add_error("invalid_item", "credential listed twice; the first was kept", item=key[1][:200])
                counts.skipped += 1
                continue
            records[key] = rec
        if not records:
            return
        self.batch += 1
        data_fp = {}
        for key, rec in records.items():
            data = _credential_data(rec)
            data_fp[key] = (data, _fingerprint(data))
        changes = self.seen.credential_changes(self.batch, [(*key, fp) for key, (_, fp) in data_fp.items()])
        counts.credentials += len(records)
        counts.unchanged += len(records) - len(changes)
        if not changes:
            return
        taken_at, source, scope = self.taken_at, self.source, self.scope
        changed = {(ctype, ext): (pk, gone) for ctype, ext, pk, gone in changes}
        # The previous version's data, to classify what changed (rotated, deactivated, ...), and
        # since when a reappearing credential was absent.
        old_data = dict(
            CredentialVersion.objects.filter(
                credential_id__in=[pk for pk, gone in changed.values() if pk is not None and not gone], valid_to__isnull=True
            ).values_list("credential_id", "data")
        )
        absent_since = dict(
            Credential.objects.filter(pk__in=[pk for pk, gone in changed.values() if gone]).values_list("pk", "disappeared_at")
        )
        owners = {
            ext: (pk, owner)
            for ext, pk, owner in Identity.objects.filter(
                source=source,
                scope=scope,
                external_id__in={storable(records[k].identity_external_id or "") for k in changed if records[k].identity_external_id},
            ).values_list("external_id", "pk", "owner")
        }
        new_rows: list[Credential] = []
        changed_rows: list[Credential] = []
        events: list[tuple[Credential, str, dict[str, Any]]] = []
        kind: str
        detail: dict[str, Any]
        for key, rec in records.items():  # in the records' order, as the events were always written
            if key not in changed:
                continue
            pk, gone = changed[key]
            data, fp = data_fp[key]
            tags = data.get("tags") or {}
            identity = owners.get(storable(rec.identity_external_id)) if rec.identity_external_id else None
            values = {
                "name": data["name"],
                "identity_id": identity[0] if identity else None,
                "enabled": rec.enabled,
                "created_at": rec.created_at,
                "last_rotated_at": rec.last_rotated_at,
                "last_used_at": rec.last_used_at,
                "last_changed_at": rec.last_changed_at,
                "expires_at": rec.expires_at,
                "not_before": rec.not_before,
                "rotation_enabled": rec.rotation_enabled,
                "rotation_interval_days": rec.rotation_interval_days,
                "next_rotation_at": rec.next_rotation_at,
                "deleted_at": rec.deleted_at,
                "owner": storable(owner_from(tags, data.get("attributes"))) or (identity[1] if identity else ""),
                "tags": tags,
                "attributes": data.get("attributes") or {},
                "fingerprint": fp,
                "disappeared_at": None,
            }
            if pk is None:
                row = Credential(source=source, scope=scope, credential_type=key[0], external_id=key[1], first_seen_at=taken_at, **values)
                new_rows.append(row)
                counts.created += 1
                events.append((row, CredentialEvent.Kind.APPEARED, {}))
                continue
            if gone:
                since = absent_since.get(pk)
                kind, detail = CredentialEvent.Kind.REAPPEARED, {"absent_since": since.isoformat() if since else None}
                counts.reappeared += 1
            else:
                previous = old_data.get(pk, {})
                kind, detail = _classify_change(previous, data), {"fields": _changed_fields(previous, data)}
            row = Credential(pk=pk, source=source, scope=scope, credential_type=key[0], external_id=key[1], **values)
            row._state.adding = False
            changed_rows.append(row)
            counts.changed += 1
            events.append((row, kind, detail))
        _insert_and_number(Credential, new_rows, Credential.objects.filter(source=source), ("credential_type", "external_id"))
        Credential.objects.bulk_update(changed_rows, _CRED_FIELDS, batch_size=1000)
        if changed_rows:
            CredentialVersion.objects.filter(credential_id__in=[r.pk for r in changed_rows], valid_to__isnull=True).update(
                valid_to=taken_at
            )
        bulk_insert_objects(
            CredentialVersion,
            [
                CredentialVersion(
                    credential=row,
                    data=data_fp[(row.credential_type, row.external_id)][0],
                    fingerprint=row.fingerprint,
                    valid_from=taken_at,
                    first_snapshot=self.snapshot,
                )
                for row in [*new_rows, *changed_rows]
            ],
        )
        with events_of_renewed_rows():  # each event's credential row was written above
            bulk_insert_objects(
                CredentialEvent,
                [
                    CredentialEvent(credential=row, kind=kind, observed_at=taken_at, snapshot=self.snapshot, detail=detail)
                    for row, kind, detail in events
                ],
            )
        for _, kind, _ in events:
            counts.events[kind] = counts.events.get(kind, 0) + 1

    # The end ------------------------------------------------------------------------------
    def finish(self, result: CollectionResult) -> tuple[Snapshot, ApplyCounts]:
        """Close what was not seen, and complete the snapshot (the stream is exhausted: the
        result's facts are final)."""
        counts, snapshot = self.counts, self.snapshot
        _gone_identities, gone = self.seen.close_gone(taken_at=self.taken_at, snapshot_id=snapshot.pk)
        counts.disappeared = gone
        if gone:
            counts.events[CredentialEvent.Kind.DISAPPEARED] = counts.events.get(CredentialEvent.Kind.DISAPPEARED, 0) + gone
        snapshot.identity_count = counts.identities
        snapshot.credential_count = counts.credentials
        snapshot.facts = storable_tree(as_jsonable(result.facts))
        snapshot.content_sha256 = self.seen.content_sha256()
        snapshot.save(update_fields=["identity_count", "credential_count", "facts", "content_sha256"])
        self.seen.drop()
        return snapshot, counts


def _insert_and_number(model, rows: list, scope_rows, key: tuple[str, ...]) -> None:
    """Insert new ``rows`` with COPY (bulk_create's INSERT was most of a large first collection's
    apply time) and give each its primary key, read back by the natural key ``key`` (unique per
    source, see the models' constraints) in one query over this batch's keys."""
    if not rows:
        return
    bulk_insert_objects(model, rows)
    last = key[-1]
    lookup = {f"{last}__in": [getattr(row, last) for row in rows]}
    pks = {tuple(v[:-1]): v[-1] for v in scope_rows.filter(scope=rows[0].scope, **lookup).values_list(*key, "pk")}
    for row in rows:
        row.pk = pks[tuple(getattr(row, k) for k in key)]
        row._state.adding = False
