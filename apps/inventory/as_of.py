"""Reads of the inventory as it stood at a point in time T (the evidence pack's inventory,
coverage, collection runs and sample histories).

"As of T" means the credential and identity versions valid at T (``valid_from <= T <
valid_to``), which is what the last snapshot at or before T recorded for each scope, and
the snapshots, units, runs, versions and events that existed at T. Rows are JSON-ready:
times are ISO 8601 UTC strings with a ``Z``, lists are ordered by id. The queries are
set-based (a fixed number, none per row); the large populations are streamed through
:func:`apps.core.rows.fast_rows`. Cloud strings are returned as stored.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypedDict

from django.db.models import Q, QuerySet

from apps.connectors.kinds import DETAIL_ATTRIBUTES
from apps.core.isotime import iso_utc, iso_utc_text, parse_iso
from apps.core.rows import fast_rows
from apps.inventory.models import (
    CollectionRun,
    CollectionUnit,
    Credential,
    CredentialEvent,
    CredentialVersion,
    IdentityVersion,
    Snapshot,
    Source,
)
from apps.inventory.tags import owner_from


class SourceInScope(TypedDict):
    id: int
    name: str
    kind: str
    location: str
    enabled: bool


class IdentityAsOf(TypedDict):
    id: int
    source_id: int
    external_id: str
    name: str
    kind: str
    created_at: str | None
    privileged: bool | None
    mfa_active: bool | None
    owner: str
    tags: dict[str, str]
    groups: list[Any]
    policies: list[Any]
    version_from: str | None


class CredentialAsOf(TypedDict):
    id: int
    source_id: int
    scope: str
    credential_type: str
    external_id: str
    name: str
    identity_id: int | None
    identity: str | None
    enabled: bool | None
    created_at: str | None
    last_rotated_at: str | None
    last_used_at: str | None
    # Where the last use came from ("credential_report", "GetAccessKeyLastUsed") and, for a
    # report, when that report was generated (AWS's can be hours old): the fact's as-of.
    last_used_source: str | None
    last_used_as_of: str | None
    expires_at: str | None
    rotation_enabled: bool | None
    rotation_interval_days: int | None
    owner: str
    tags: dict[str, str]
    age_days: int | None  # days from the last rotation (or creation) to T
    version_from: str | None
    # The kind's own facts (apps.connectors.kinds.DETAIL_ATTRIBUTES), e.g. a parameter's tier and
    # KMS key; {} for kinds the generic fields describe fully.
    details: dict[str, Any]


class ScopeError(TypedDict):
    code: str
    message: str


class ScopeCoverage(TypedDict):
    scope: str
    last_snapshot_at: str | None
    snapshot_sha256: str | None
    credentials: int
    identities: int
    last_status: str  # of the last finished unit: succeeded | failed, or "never"
    last_finished_at: str | None
    errors: list[ScopeError]


class SourceCoverage(TypedDict):
    id: int
    name: str
    kind: str
    location: str
    enabled: bool
    scopes: list[ScopeCoverage]


class UnitAsOf(TypedDict):
    source: str
    scope: str
    status: str
    attempts: int
    finished_at: str | None
    credentials: int
    errors: list[str]


class RunAsOf(TypedDict):
    id: int
    trigger: str
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    status: str
    units: list[UnitAsOf]


class VersionAsOf(TypedDict):
    valid_from: str | None
    valid_to: str | None
    enabled: bool | None
    last_rotated_at: str | None
    owner: str


class EventAsOf(TypedDict):
    kind: str
    observed_at: str | None
    detail: dict[str, Any]


@dataclass
class CredentialHistories:
    """The versions and lifecycle events of some credentials up to T, and when each was first seen."""

    versions: dict[int, list[VersionAsOf]] = field(default_factory=dict)
    events: dict[int, list[EventAsOf]] = field(default_factory=dict)
    first_seen_at: dict[int, str | None] = field(default_factory=dict)


def sources_in_scope(*, ids: list[int]) -> list[SourceInScope]:
    """The sources with ``ids`` and the member accounts of the organisations among them, or every
    source when ``ids`` is empty; ordered by id."""
    qs = Source.objects.order_by("id")
    if ids:
        qs = qs.filter(Q(id__in=ids) | Q(parent_id__in=ids))
    return [{"id": s.id, "name": s.name, "kind": s.kind, "location": s.location, "enabled": s.enabled} for s in qs]


def _valid_at(as_of: datetime) -> Q:
    return Q(valid_from__lte=as_of) & (Q(valid_to__isnull=True) | Q(valid_to__gt=as_of))


def identities_as_of(*, source_ids: list[int], as_of: datetime) -> dict[int, IdentityAsOf]:
    """The identities of ``source_ids`` as their versions valid at ``as_of`` recorded them, by id (ascending)."""
    qs = IdentityVersion.objects.filter(_valid_at(as_of), identity__source_id__in=source_ids).order_by("identity_id")
    fields = ("identity_id", "identity__source_id", "identity__external_id", "data", "valid_from")
    out: dict[int, IdentityAsOf] = {}
    for identity_id, source_id, external_id, data, valid_from in fast_rows(qs, fields):
        tags = data.get("tags") or {}
        out[identity_id] = {
            "id": identity_id,
            "source_id": source_id,
            "external_id": external_id,
            "name": data.get("name", ""),
            "kind": data.get("kind", ""),
            "created_at": iso_utc_text(data.get("created_at")),
            "privileged": data.get("privileged"),
            "mfa_active": data.get("mfa_active"),
            "owner": owner_from(tags, data.get("attributes")),
            "tags": tags,
            "groups": data.get("groups") or [],
            "policies": data.get("policies") or [],
            "version_from": iso_utc(valid_from),
        }
    return out


CREDENTIAL_CHUNK = 2000  # rows read per query when the credentials are streamed


def credentials_as_of(*, source_ids: list[int], as_of: datetime, identities: dict[int, IdentityAsOf]) -> list[CredentialAsOf]:
    """The credentials of ``source_ids`` as their versions valid at ``as_of`` recorded them, ordered by id.

    Each is joined to its identity among ``identities`` (:func:`identities_as_of` for the same
    time): by the identity's external id recorded in the version, else by the credential's
    identity. The owner is the owner tag, else the identity's owner."""
    return list(iter_credentials_as_of(source_ids=source_ids, as_of=as_of, identities=identities))


def iter_credentials_as_of(
    *,
    source_ids: list[int],
    as_of: datetime,
    identities: dict[int, IdentityAsOf],
    ids: list[int] | None = None,
    types: tuple[str, ...] | None = None,
    chunk: int | None = None,
) -> Iterator[CredentialAsOf]:
    """:func:`credentials_as_of`'s rows one by one, read ``chunk`` (:data:`CREDENTIAL_CHUNK`) at a time (keyset pages by
    credential id), so memory holds one chunk whatever the estate's size; narrowed to ``ids``
    and to credential ``types`` when given. Same rows, same order."""
    chunk = chunk or CREDENTIAL_CHUNK
    base = CredentialVersion.objects.filter(_valid_at(as_of), credential__source_id__in=source_ids)
    if ids is not None:
        base = base.filter(credential_id__in=ids)
    if types is not None:
        base = base.filter(credential__credential_type__in=types)
    by_ext = {(i["source_id"], i["external_id"]): i for i in identities.values()}
    after = 0
    while True:
        page = base.filter(credential_id__gt=after).order_by("credential_id")[:chunk]
        rows = list(_credential_rows(page, as_of, identities, by_ext))
        yield from rows
        if len(rows) < chunk:
            return
        after = rows[-1]["id"]


def _credential_rows(
    qs: QuerySet, as_of: datetime, identities: dict[int, IdentityAsOf], by_ext: dict[tuple[int, str], IdentityAsOf]
) -> Iterator[CredentialAsOf]:
    fields = (
        "credential_id",
        "credential__source_id",
        "credential__scope",
        "credential__credential_type",
        "credential__external_id",
        "credential__identity_id",
        "data",
        "valid_from",
    )
    for cid, source_id, scope, ctype, external_id, identity_id, data, valid_from in fast_rows(qs, fields):
        tags = data.get("tags") or {}
        identity = by_ext.get((source_id, data.get("identity_external_id"))) if data.get("identity_external_id") else None
        if identity is None and identity_id in identities:
            identity = identities[identity_id]
        rotated = iso_utc_text(data.get("last_rotated_at"))
        created = iso_utc_text(data.get("created_at"))
        basis = parse_iso(rotated or created)
        attributes = data.get("attributes") if isinstance(data.get("attributes"), dict) else {}
        used_source = attributes.get("last_used_source")
        yield {
            "id": cid,
            "source_id": source_id,
            "scope": scope,
            "credential_type": ctype,
            "external_id": external_id,
            "name": data.get("name", ""),
            "identity_id": identity["id"] if identity else None,
            "identity": identity["name"] if identity else None,
            "enabled": data.get("enabled"),
            "created_at": created,
            "last_rotated_at": rotated,
            "last_used_at": iso_utc_text(data.get("last_used_at")),
            "last_used_source": used_source if isinstance(used_source, str) else None,
            "last_used_as_of": iso_utc_text(attributes.get("report_generated_at")) if used_source == "credential_report" else None,
            "expires_at": iso_utc_text(data.get("expires_at")),
            "rotation_enabled": data.get("rotation_enabled"),
            "rotation_interval_days": data.get("rotation_interval_days"),
            "owner": owner_from(tags, attributes) or (identity["owner"] if identity else ""),
            "tags": tags,
            "age_days": (as_of - basis).days if basis else None,
            "version_from": iso_utc(valid_from),
            "details": {key: attributes.get(key) for key, _ in DETAIL_ATTRIBUTES.get(ctype, ())},
        }


def coverage_as_of(*, sources: list[SourceInScope], as_of: datetime) -> list[SourceCoverage]:
    """Per source (in the given order) and scope (by name): the last snapshot at or before
    ``as_of`` (time, SHA-256, counts) and the last unit finished by then (status, its last 5 errors)."""
    source_ids = [s["id"] for s in sources]
    snapshots: dict[tuple[int, str], Snapshot] = {}
    for snap in Snapshot.objects.filter(source_id__in=source_ids, taken_at__lte=as_of).order_by("source_id", "scope", "taken_at", "id"):
        snapshots[(snap.source_id, snap.scope)] = snap  # the last one wins
    last_unit: dict[tuple[int, str], CollectionUnit] = {}
    for unit in CollectionUnit.objects.filter(
        source_id__in=source_ids, finished_at__lte=as_of, status__in=["succeeded", "failed"]
    ).order_by("source_id", "scope", "finished_at", "id"):
        last_unit[(unit.source_id, unit.scope)] = unit
    out: list[SourceCoverage] = []
    for s in sources:
        scopes = sorted({scope for (sid, scope) in [*snapshots, *last_unit] if sid == s["id"]})
        rows: list[ScopeCoverage] = []
        for scope in scopes:
            shot, done = snapshots.get((s["id"], scope)), last_unit.get((s["id"], scope))
            errors = [
                ScopeError(code=str(e.get("code", "")), message=str(e.get("message", ""))[:500]) for e in (done.errors if done else [])
            ][-5:]
            rows.append(
                {
                    "scope": scope,
                    "last_snapshot_at": iso_utc(shot.taken_at) if shot else None,
                    "snapshot_sha256": shot.content_sha256 if shot else None,
                    "credentials": shot.credential_count if shot else 0,
                    "identities": shot.identity_count if shot else 0,
                    "last_status": done.status if done else "never",
                    "last_finished_at": iso_utc(done.finished_at) if done else None,
                    "errors": errors,
                }
            )
        out.append(
            {"id": s["id"], "name": s["name"], "kind": s["kind"], "location": s["location"], "enabled": s["enabled"], "scopes": rows}
        )
    return out


def collection_runs_between(*, source_ids: list[int], start: datetime, as_of: datetime) -> list[RunAsOf]:
    """The runs created from ``start`` to ``as_of`` with their units of ``source_ids``, as they
    stood at ``as_of`` (a run or unit not finished by then is "running"), by run id."""
    units = (
        CollectionUnit.objects.filter(source_id__in=source_ids, run__created_at__gte=start, run__created_at__lte=as_of)
        .select_related("run", "source")
        .order_by("run_id", "source_id", "scope")
    )
    runs: dict[int, RunAsOf] = {}
    for u in units:
        run = u.run
        finished = run.finished_at if run.finished_at and run.finished_at <= as_of else None
        entry = runs.setdefault(
            run.id,
            {
                "id": run.id,
                "trigger": run.trigger,
                "created_at": iso_utc(run.created_at),
                "started_at": iso_utc(run.started_at),
                "finished_at": iso_utc(finished),
                "status": run.status if finished else CollectionRun.Status.RUNNING,
                "units": [],
            },
        )
        done = u.finished_at is not None and u.finished_at <= as_of
        entry["units"].append(
            {
                "source": u.source.name,
                "scope": u.scope,
                "status": u.status if done else "running",
                "attempts": u.attempts,
                "finished_at": iso_utc(u.finished_at) if done else None,
                "credentials": (u.counts or {}).get("credentials", 0) if done else 0,
                "errors": [str(e.get("message", ""))[:300] for e in (u.errors or [])][-3:] if done else [],
            }
        )
    return list(runs.values())


def credential_histories(*, credential_ids: list[int], as_of: datetime) -> CredentialHistories:
    """For each of ``credential_ids``: its versions begun by ``as_of`` (a version ending after
    ``as_of`` shows no end), its lifecycle events observed by then, oldest first, and when it
    was first seen. Three queries."""
    out = CredentialHistories()
    versions: dict[int, list[VersionAsOf]] = defaultdict(list)
    for cid, data, valid_from, valid_to in (
        CredentialVersion.objects.filter(credential_id__in=credential_ids, valid_from__lte=as_of)
        .order_by("credential_id", "valid_from", "id")
        .values_list("credential_id", "data", "valid_from", "valid_to")
    ):
        versions[cid].append(
            {
                "valid_from": iso_utc(valid_from),
                "valid_to": iso_utc(valid_to) if valid_to and valid_to <= as_of else None,
                "enabled": data.get("enabled"),
                "last_rotated_at": iso_utc_text(data.get("last_rotated_at")),
                "owner": owner_from(data.get("tags") or {}, data.get("attributes")),
            }
        )
    events: dict[int, list[EventAsOf]] = defaultdict(list)
    for cid, kind, observed_at, detail in (
        CredentialEvent.objects.filter(credential_id__in=credential_ids, observed_at__lte=as_of)
        .order_by("credential_id", "observed_at", "id")
        .values_list("credential_id", "kind", "observed_at", "detail")
    ):
        events[cid].append({"kind": kind, "observed_at": iso_utc(observed_at), "detail": detail})
    out.versions, out.events = dict(versions), dict(events)
    out.first_seen_at = {
        cid: iso_utc(at) for cid, at in Credential.objects.filter(id__in=credential_ids).values_list("id", "first_seen_at")
    }
    return out
