"""Applying one unit's CollectionResult to the inventory, in one transaction.

Either the whole scope's new state is written (new rows, changed rows with a new version,
disappeared rows closed) together with its Snapshot, or nothing is: the caller wraps this
in ``transaction.atomic``. Only rows of the unit's own scope are touched, so a failed unit
of another region or vault never loses what was collected before.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from apps.connectors.base import AS_OF_ATTRIBUTES, CollectionResult, CredentialRecord, IdentityRecord, as_jsonable
from apps.core.bulk import bulk_insert_objects
from apps.core.canonical import canonical_json
from apps.core.text import storable, storable_tree
from apps.inventory.models import (
    CollectionUnit,
    Credential,
    CredentialEvent,
    CredentialVersion,
    Identity,
    IdentityVersion,
    Snapshot,
)
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


def inventory_apply(*, unit: CollectionUnit, result: CollectionResult, taken_at: datetime) -> tuple[Snapshot, ApplyCounts]:
    """Write ``result`` as the new state of ``unit``'s scope. Call inside transaction.atomic."""
    source = unit.source
    scope = unit.scope
    counts = ApplyCounts()

    identity_records: dict[str, IdentityRecord] = {}
    for rec in result.identities:
        if not rec.external_id or len(rec.external_id) > MAX_EXTERNAL_ID:
            result.add_error(
                "invalid_item", f"identity id missing or longer than {MAX_EXTERNAL_ID} characters", item=str(rec.external_id)[:200]
            )
            counts.skipped += 1
            continue
        if name_too_long(rec.name):
            result.add_error("invalid_item", f"identity name longer than {MAX_NAME_BYTES} bytes", item=str(rec.external_id)[:200])
            counts.skipped += 1
            continue
        identity_records[storable(rec.external_id)] = rec
    credential_records: dict[tuple[str, str], CredentialRecord] = {}
    credential_types = set(Credential.Type.values)  # a property that builds a list on each access
    for rec in result.credentials:
        if not rec.external_id or len(rec.external_id) > MAX_EXTERNAL_ID or rec.credential_type not in credential_types:
            result.add_error("invalid_item", "credential id missing, too long, or of an unknown type", item=str(rec.external_id)[:200])
            counts.skipped += 1
            continue
        if name_too_long(rec.name):
            result.add_error("invalid_item", f"credential name longer than {MAX_NAME_BYTES} bytes", item=str(rec.external_id)[:200])
            counts.skipped += 1
            continue
        credential_records[(rec.credential_type, storable(rec.external_id))] = rec

    fingerprints = []
    id_data = {}
    for ext_id, rec in identity_records.items():
        data = _identity_data(rec)
        id_data[ext_id] = (data, _fingerprint(data))
        fingerprints.append("i:" + id_data[ext_id][1])
    cred_data = {}
    for key, rec in credential_records.items():
        data = _credential_data(rec)
        cred_data[key] = (data, _fingerprint(data))
        fingerprints.append("c:" + cred_data[key][1])
    fingerprints.sort()

    snapshot = Snapshot.objects.create(
        unit=unit,
        source=source,
        scope=scope,
        taken_at=taken_at,
        identity_count=len(identity_records),
        credential_count=len(credential_records),
        facts=storable_tree(as_jsonable(result.facts)),
        content_sha256=hashlib.sha256("\n".join(fingerprints).encode()).hexdigest(),
    )

    identities = _apply_identities(source, scope, identity_records, id_data, snapshot, taken_at, counts)
    _apply_credentials(source, scope, credential_records, cred_data, identities, snapshot, taken_at, counts)
    counts.identities = len(identity_records)
    counts.credentials = len(credential_records)
    return snapshot, counts


def _insert_and_number(model, rows: list, scope_rows, key: tuple[str, ...]) -> None:
    """Insert new ``rows`` with COPY (bulk_create's INSERT was most of a large first collection's
    apply time) and give each its primary key, read back by the natural key ``key`` (unique per
    source, see the models' constraints) in one query."""
    if not rows:
        return
    bulk_insert_objects(model, rows)
    pks = {tuple(v[:-1]): v[-1] for v in scope_rows.filter(scope=rows[0].scope).values_list(*key, "pk")}
    for row in rows:
        row.pk = pks[tuple(getattr(row, k) for k in key)]
        row._state.adding = False


def _apply_identities(source, scope, records, id_data, snapshot, taken_at, counts) -> dict[str, Identity]:
    # Only what comparing needs: a large unchanged scope is read on every collection.
    existing = {
        i.external_id: i
        for i in Identity.objects.filter(source=source, scope=scope).only("external_id", "owner", "fingerprint", "disappeared_at")
    }
    new_rows, changed_rows, new_versions, closing = [], [], [], []
    for ext_id, rec in records.items():
        data, fp = id_data[ext_id]
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
        row = existing.get(ext_id)
        if row is None:
            new_rows.append(Identity(source=source, scope=scope, external_id=ext_id, first_seen_at=taken_at, **values))
        elif row.fingerprint != fp or row.disappeared_at is not None:
            for k, v in values.items():
                setattr(row, k, v)
            changed_rows.append(row)
            closing.append(row.pk)
    _insert_and_number(Identity, new_rows, Identity.objects.filter(source=source), ("external_id",))
    Identity.objects.bulk_update(changed_rows, _IDENTITY_FIELDS, batch_size=1000)
    if closing:
        IdentityVersion.objects.filter(identity_id__in=closing, valid_to__isnull=True).update(valid_to=taken_at)
    for row in [*new_rows, *changed_rows]:
        new_versions.append(
            IdentityVersion(
                identity=row, data=id_data[row.external_id][0], fingerprint=row.fingerprint, valid_from=taken_at, first_snapshot=snapshot
            )
        )
    bulk_insert_objects(IdentityVersion, new_versions)

    gone = [row for ext_id, row in existing.items() if ext_id not in records and row.disappeared_at is None]
    for row in gone:
        row.disappeared_at = taken_at
    Identity.objects.bulk_update(gone, ["disappeared_at"], batch_size=1000)
    if gone:
        IdentityVersion.objects.filter(identity_id__in=[r.pk for r in gone], valid_to__isnull=True).update(valid_to=taken_at)
    by_ext = {**existing, **{r.external_id: r for r in new_rows}}
    return by_ext


def _apply_credentials(source, scope, records, cred_data, identities, snapshot, taken_at, counts) -> None:
    existing = {
        (c.credential_type, c.external_id): c
        for c in Credential.objects.filter(source=source, scope=scope).only(
            "credential_type", "external_id", "fingerprint", "disappeared_at"
        )
    }
    new_rows, changed_rows, events, closing = [], [], [], []
    old_data: dict[int, dict] = {}
    if existing:
        # The previous version's data, to classify what changed (rotated, deactivated, ...).
        changed_ids = [c.pk for key, c in existing.items() if key in cred_data and c.fingerprint != cred_data[key][1]]
        for v in CredentialVersion.objects.filter(credential_id__in=changed_ids, valid_to__isnull=True).only("credential_id", "data"):
            old_data[v.credential_id] = v.data
    for key, rec in records.items():
        data, fp = cred_data[key]
        tags = data.get("tags") or {}
        identity = identities.get(storable(rec.identity_external_id)) if rec.identity_external_id else None
        values = {
            "name": data["name"],
            "identity_id": identity.pk if identity else None,
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
            "owner": storable(owner_from(tags, data.get("attributes"))) or (identity.owner if identity else ""),
            "tags": tags,
            "attributes": data.get("attributes") or {},
            "fingerprint": fp,
            "disappeared_at": None,
        }
        row = existing.get(key)
        if row is None:
            row = Credential(source=source, scope=scope, credential_type=key[0], external_id=key[1], first_seen_at=taken_at, **values)
            new_rows.append(row)
            counts.created += 1
            events.append((row, CredentialEvent.Kind.APPEARED, {}))
        elif row.fingerprint != fp or row.disappeared_at is not None:
            if row.disappeared_at is not None:
                kind, detail = CredentialEvent.Kind.REAPPEARED, {"absent_since": row.disappeared_at.isoformat()}
                counts.reappeared += 1
            else:
                previous = old_data.get(row.pk, {})
                kind, detail = _classify_change(previous, data), {"fields": _changed_fields(previous, data)}
            for k, v in values.items():
                setattr(row, k, v)
            changed_rows.append(row)
            closing.append(row.pk)
            counts.changed += 1
            events.append((row, kind, detail))
        else:
            counts.unchanged += 1
    _insert_and_number(Credential, new_rows, Credential.objects.filter(source=source), ("credential_type", "external_id"))
    Credential.objects.bulk_update(changed_rows, _CRED_FIELDS, batch_size=1000)
    if closing:
        CredentialVersion.objects.filter(credential_id__in=closing, valid_to__isnull=True).update(valid_to=taken_at)
    bulk_insert_objects(
        CredentialVersion,
        [
            CredentialVersion(
                credential=row,
                data=cred_data[(row.credential_type, row.external_id)][0],
                fingerprint=row.fingerprint,
                valid_from=taken_at,
                first_snapshot=snapshot,
            )
            for row in [*new_rows, *changed_rows]
        ],
    )

    gone = [row for key, row in existing.items() if key not in records and row.disappeared_at is None]
    for row in gone:
        row.disappeared_at = taken_at
        events.append((row, CredentialEvent.Kind.DISAPPEARED, {}))
    counts.disappeared = len(gone)
    Credential.objects.bulk_update(gone, ["disappeared_at"], batch_size=1000)
    if gone:
        CredentialVersion.objects.filter(credential_id__in=[r.pk for r in gone], valid_to__isnull=True).update(valid_to=taken_at)

    bulk_insert_objects(
        CredentialEvent,
        [
            CredentialEvent(credential=row, kind=kind, observed_at=taken_at, snapshot=snapshot, detail=detail)
            for row, kind, detail in events
        ],
    )
    for _, kind, _ in events:
        counts.events[kind] = counts.events.get(kind, 0) + 1
