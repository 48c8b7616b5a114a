"""Reads for the inventory's pages: sources, collection runs, credentials and identities.

Everything a person sees is narrowed to the sources they may view
(``inventory.view_source``, by role or per object); a run is shown through the units of
those sources only. Cloud strings (names, tags, attributes) are returned as stored: the
templates escape them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from django.core.paginator import Page
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone

from apps.core.ids import parse_id
from apps.core.pagination import GroupedPaginator
from apps.core.permissions import objects_for
from apps.inventory.models import (
    CollectionRun,
    CollectionUnit,
    Credential,
    CredentialEvent,
    CredentialVersion,
    Identity,
    IdentityVersion,
    Snapshot,
    Source,
)

YES_NO = {"yes": True, "no": False}
# The lists' order after the source's name; indexes on (source, *order) serve it (models.py).
CREDENTIAL_ORDER_WITHIN_SOURCE = ("credential_type", "name", "pk")
IDENTITY_ORDER_WITHIN_SOURCE = ("name", "pk")


def visible_sources(*, user) -> QuerySet[Source]:
    """The sources ``user`` may view (globally through a role, or shared per object)."""
    return objects_for(user, "inventory.view_source", Source.objects.all())


def source_ids_with(*, user, perm: str) -> set[int]:
    """Ids of the sources on which ``user`` holds ``perm``: one query, for per-row buttons."""
    return set(objects_for(user, perm, Source.objects.all()).values_list("pk", flat=True))


# --- sources ---------------------------------------------------------------------------


def source_list(*, user) -> QuerySet[Source]:
    """Visible sources with their latest run (id, status, time) and present inventory counts."""
    latest_unit = CollectionUnit.objects.filter(source=OuterRef("pk")).order_by("-run__created_at", "-run_id")
    return (
        visible_sources(user=user)
        .select_related("parent")
        .annotate(
            last_run_id=Subquery(latest_unit.values("run_id")[:1]),
            last_run_status=Subquery(latest_unit.values("run__status")[:1]),
            last_run_at=Subquery(latest_unit.values("run__created_at")[:1]),
        )
        .order_by("name")
    )


def source_get(*, pk: int) -> Source:
    return Source.objects.select_related("created_by", "parent").get(pk=pk)


def source_runs(*, source: Source, limit: int = 10) -> list[CollectionRun]:
    """The latest runs that collected ``source``, with that source's unit outcomes counted."""
    mine = Q(units__source=source)
    return list(
        CollectionRun.objects.filter(Exists(CollectionUnit.objects.filter(run=OuterRef("pk"), source=source)))
        .select_related("requested_by")
        .annotate(
            unit_total=Count("units", filter=mine),
            unit_ok=Count("units", filter=mine & Q(units__status=CollectionUnit.Status.SUCCEEDED)),
            unit_failed=Count("units", filter=mine & Q(units__status=CollectionUnit.Status.FAILED)),
        )
        .order_by("-created_at")[:limit]
    )


def source_latest_snapshots(*, source: Source) -> list[Snapshot]:
    """The newest snapshot of each scope of ``source`` (its point-in-time evidence)."""
    newest = Snapshot.objects.filter(source=source, scope=OuterRef("scope")).order_by("-taken_at", "-pk").values("pk")[:1]
    return list(Snapshot.objects.filter(source=source, pk=Subquery(newest)).select_related("unit").order_by("scope"))


def source_inventory_counts(*, source: Source) -> dict[str, int]:
    """How many identities and credentials of ``source`` are present now."""
    return {
        "identities": Identity.objects.filter(source=source, disappeared_at__isnull=True).count(),
        "credentials": Credential.objects.filter(source=source, disappeared_at__isnull=True).count(),
    }


# --- collection runs ---------------------------------------------------------------------


def run_list(*, user) -> QuerySet[CollectionRun]:
    """Runs with at least one unit of a source ``user`` may view; unit outcomes counted over those units only."""
    sources = visible_sources(user=user)
    seen = Q(units__source__in=sources)
    return (
        CollectionRun.objects.filter(Exists(CollectionUnit.objects.filter(run=OuterRef("pk"), source__in=sources)))
        .select_related("requested_by")
        .annotate(
            unit_total=Count("units", filter=seen),
            unit_ok=Count("units", filter=seen & Q(units__status=CollectionUnit.Status.SUCCEEDED)),
            unit_failed=Count("units", filter=seen & Q(units__status=CollectionUnit.Status.FAILED)),
        )
        .order_by("-created_at", "-pk")
    )


def run_get(*, pk: int) -> CollectionRun:
    return CollectionRun.objects.select_related("requested_by", "retry_of").get(pk=pk)


def run_units(*, run: CollectionRun, user) -> list[CollectionUnit]:
    """The units of ``run`` whose source ``user`` may view, with their snapshot, ready to show.

    Each unit gets ``duration`` (seconds or None) and ``api_call_rows`` (sorted
    ``[(operation, count)]``): dict keys are not looked up by the template, where a key
    called ``items`` would shadow the method.
    """
    units = list(
        CollectionUnit.objects.filter(run=run, source__in=visible_sources(user=user))
        .select_related("source")
        .prefetch_related(Prefetch("snapshot", queryset=Snapshot.objects.only("id", "unit_id", "taken_at", "content_sha256")))
        .order_by("source__name", "scope")
    )
    for unit in units:
        unit.duration = (unit.finished_at - unit.started_at).total_seconds() if unit.started_at and unit.finished_at else None
        unit.api_call_rows = sorted((str(k), v) for k, v in (unit.api_calls or {}).items())
        unit.api_call_total = sum(v for _, v in unit.api_call_rows if isinstance(v, int))
    return units


def run_progress(units: list[CollectionUnit]) -> dict[str, int]:
    """Units finished out of the total, and the percentage, for the progress bar."""
    total = len(units)
    done = sum(1 for u in units if u.status in (CollectionUnit.Status.SUCCEEDED, CollectionUnit.Status.FAILED))
    return {
        "total": total,
        "done": done,
        "failed": sum(1 for u in units if u.status == CollectionUnit.Status.FAILED),
        "percent": round(100 * done / total) if total else 100,
    }


# --- credentials -------------------------------------------------------------------------


def credential_list(
    *, user, credential_type: str = "", source: str = "", presence: str = "", enabled: str = "", owner: str = "", q: str = ""
) -> QuerySet[Credential]:
    """Credentials of the sources ``user`` may view, filtered; source and identity joined in."""
    qs = Credential.objects.filter(source__in=visible_sources(user=user))
    if credential_type:
        qs = qs.filter(credential_type=credential_type)
    if source.isdigit():
        # An id, else nothing matches (never a query with a number the database cannot hold).
        source_id = parse_id(source)
        qs = qs.filter(source_id=source_id) if source_id is not None else qs.none()
    if presence == "present":
        qs = qs.filter(disappeared_at__isnull=True)
    elif presence == "disappeared":
        qs = qs.filter(disappeared_at__isnull=False)
    if enabled in YES_NO:
        qs = qs.filter(enabled=YES_NO[enabled])
    elif enabled == "unknown":
        qs = qs.filter(enabled__isnull=True)
    if owner == "missing":
        qs = qs.filter(owner="")
    elif owner == "set":
        qs = qs.exclude(owner="")
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(external_id__icontains=q))
    return (
        qs.select_related("source", "identity")
        .defer("attributes", "identity__data", "identity__tags")
        .order_by("source__name", *CREDENTIAL_ORDER_WITHIN_SOURCE)
    )


def credential_page(*, user, number, per_page: int = 50, **filters) -> Page:
    """Page ``number`` of :func:`credential_list` (the nearest page for junk or out-of-range
    numbers), read source by source along ``credential_list_order_idx``: three queries
    (rows per source, the page's ids, its rows) whatever the page and the size of the inventory."""
    return GroupedPaginator(
        credential_list(user=user, **filters),
        per_page,
        group="source_id",
        group_order="source__name",
        within=CREDENTIAL_ORDER_WITHIN_SOURCE,
    ).get_page(number)


def credential_get(*, pk: int) -> Credential:
    return Credential.objects.select_related("source", "identity").get(pk=pk)


def credential_versions(*, credential: Credential) -> list[CredentialVersion]:
    """The credential's versions, oldest first, each with ``changes``: what differs from the one before.

    ``changes`` is ``[(field, old, new)]`` as display text; tags and attributes are compared
    key by key (``tags.owner``) so a long tag set does not hide which tag changed.
    """
    versions = list(
        CredentialVersion.objects.filter(credential=credential).select_related("first_snapshot__unit").order_by("valid_from", "pk")
    )
    _attach_changes(versions)
    return versions


def identity_versions(*, identity: Identity) -> list[IdentityVersion]:
    versions = list(IdentityVersion.objects.filter(identity=identity).select_related("first_snapshot__unit").order_by("valid_from", "pk"))
    _attach_changes(versions)
    return versions


def credential_events(*, credential: Credential) -> list[CredentialEvent]:
    """What collections observed happening to the credential, oldest first, with their snapshot."""
    events = list(CredentialEvent.objects.filter(credential=credential).select_related("snapshot__unit").order_by("observed_at", "pk"))
    for event in events:
        detail = event.detail or {}
        fields = detail.get("fields")
        event.detail_rows = [("fields", ", ".join(str(f) for f in fields))] if isinstance(fields, list) else []
        event.detail_rows += [(str(k), display_value(v)) for k, v in sorted(detail.items(), key=lambda kv: str(kv[0])) if k != "fields"]
    return events


# --- identities --------------------------------------------------------------------------


def identity_list(*, user, **filters) -> QuerySet[Identity]:
    """Identities of the sources ``user`` may view, filtered, with their number of credentials."""
    return _identity_rows(_identities(user=user, **filters)).order_by("source__name", *IDENTITY_ORDER_WITHIN_SOURCE)


def identity_page(*, user, number, per_page: int = 50, **filters) -> Page:
    """Page ``number`` of :func:`identity_list`, read source by source along
    ``identity_list_order_idx``; present credentials are counted for the page's identities only."""
    return GroupedPaginator(
        _identities(user=user, **filters).order_by("source__name", *IDENTITY_ORDER_WITHIN_SOURCE),
        per_page,
        group="source_id",
        group_order="source__name",
        within=IDENTITY_ORDER_WITHIN_SOURCE,
        rows=_identity_rows,
    ).get_page(number)


def _identity_rows(qs: QuerySet[Identity]) -> QuerySet[Identity]:
    return (
        qs.select_related("source")
        .defer("data", "tags")
        .annotate(credential_count=Count("credentials", filter=Q(credentials__disappeared_at__isnull=True)))
    )


def _identities(
    *, user, kind: str = "", source: str = "", privileged: str = "", mfa: str = "", owner: str = "", presence: str = "", q: str = ""
) -> QuerySet[Identity]:
    qs = Identity.objects.filter(source__in=visible_sources(user=user))
    if kind:
        qs = qs.filter(kind=kind)
    if source.isdigit():
        # An id, else nothing matches (never a query with a number the database cannot hold).
        source_id = parse_id(source)
        qs = qs.filter(source_id=source_id) if source_id is not None else qs.none()
    if privileged in YES_NO:
        qs = qs.filter(privileged=YES_NO[privileged])
    if mfa in YES_NO:
        qs = qs.filter(mfa_active=YES_NO[mfa])
    if owner == "missing":
        qs = qs.filter(owner="")
    elif owner == "set":
        qs = qs.exclude(owner="")
    if presence == "present":
        qs = qs.filter(disappeared_at__isnull=True)
    elif presence == "disappeared":
        qs = qs.filter(disappeared_at__isnull=False)
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(external_id__icontains=q))
    return qs


def identity_get(*, pk: int) -> Identity:
    return Identity.objects.select_related("source").get(pk=pk)


def identity_credentials(*, identity: Identity) -> list[Credential]:
    return list(identity.credentials.select_related("source").defer("attributes").order_by("disappeared_at", "credential_type", "name"))


# --- display helpers ---------------------------------------------------------------------


def display_value(value: Any) -> str:
    """A JSON value as text: strings as they are, anything else as compact JSON, None as —."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def key_values(mapping: Any) -> list[tuple[str, str]]:
    """A JSON object as sorted ``[(key, text)]`` rows for a key/value table (anything else: one row)."""
    if not mapping:
        return []
    if not isinstance(mapping, dict):
        return [("", display_value(mapping))]
    return [(str(k), display_value(v)) for k, v in sorted(mapping.items(), key=lambda kv: str(kv[0]))]


def _field_text(key: str, value: Any) -> str:
    """A version field as text; the ISO 8601 times versions store are shown as UTC ``Y-m-d H:i``."""
    if isinstance(value, str) and (key.endswith("_at") or key == "not_before"):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC)
        return moment.strftime("%Y-%m-%d %H:%M")
    return display_value(value)


def _changes(old: dict, new: dict) -> list[tuple[str, str, str]]:
    rows = []
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if isinstance(before, dict) or isinstance(after, dict):
            before, after = before if isinstance(before, dict) else {}, after if isinstance(after, dict) else {}
            for sub in sorted(set(before) | set(after), key=str):
                if before.get(sub) != after.get(sub):
                    rows.append((f"{key}.{sub}", display_value(before.get(sub)), display_value(after.get(sub))))
        else:
            rows.append((key, _field_text(key, before), _field_text(key, after)))
    return rows


def _attach_changes(versions: list) -> None:
    previous = None
    for version in versions:
        data = version.data if isinstance(version.data, dict) else {}
        version.changes = _changes(previous, data) if previous is not None else []
        version.is_first = previous is None
        previous = data


def days_since(moment: datetime | None, *, now: datetime | None = None) -> int | None:
    """Whole days from ``moment`` to now (negative for the future), or None."""
    if moment is None:
        return None
    return ((now or timezone.now()) - moment).days


def with_ages(credentials, *, now: datetime | None = None):
    """Give each credential ``age_days``, ``rotated_days``, ``used_days`` and ``expires_in_days``."""
    now = now or timezone.now()
    for c in credentials:
        c.age_days = days_since(c.created_at, now=now)
        c.rotated_days = days_since(c.last_rotated_at, now=now)
        c.used_days = days_since(c.last_used_at, now=now)
        c.expires_in_days = (c.expires_at - now).days if c.expires_at else None
    return credentials


def last_used_basis(credential: Credential) -> dict[str, Any]:
    """Where a credential's last use came from and as of when: ``{"source", "as_of"}``. A
    credential report's facts stand as of the report's generation (AWS's can be hours old)."""
    attributes = credential.attributes if isinstance(credential.attributes, dict) else {}
    source = attributes.get("last_used_source")
    as_of = attributes.get("report_generated_at") if source == "credential_report" else None
    try:
        moment = datetime.fromisoformat(str(as_of).replace("Z", "+00:00")) if as_of else None
    except ValueError:
        moment = None
    return {"source": source if isinstance(source, str) else None, "as_of": moment}


def every_source() -> QuerySet[Source]:
    """Every source by name, for a choice among them (an engagement's scope; GRC leads only)."""
    return Source.objects.order_by("name")


def unit_source_id(*, unit_id: int) -> int | None:
    """The source a collection unit belongs to (None if the unit does not exist)."""
    return CollectionUnit.objects.filter(pk=unit_id).values_list("source_id", flat=True).first()
