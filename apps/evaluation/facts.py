"""Reading the inventory into the rules' plain facts, in a fixed number of queries."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db.models import Max, Q
from django.utils.module_loading import import_string

from apps.connectors.registry import source_facts_connectors
from apps.core.rows import fast_rows, id_set
from apps.evaluation.policy import Policy
from apps.evaluation.rules.base import (
    CredentialFacts,
    IdentityFacts,
    ScopeCoverage,
    SourceFacts,
)
from apps.inventory.fact_revision import COLUMN as REVISION
from apps.inventory.fact_revision import CREDENTIAL_TABLE, IDENTITY_TABLE, REVISION_SELECT
from apps.inventory.models import (
    CollectionUnit,
    Credential,
    CredentialEvent,
    Identity,
    Snapshot,
    Source,
)
from apps.inventory.scopes import source_scopes

# One field order for the rules' facts: the whole inventory (load_facts) and one credential
# (apps.evaluation.selectors.credentials) read the same columns into the same dataclasses.
CREDENTIAL_FIELDS = (
    "id",
    "source_id",
    "scope",
    "credential_type",
    "external_id",
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
)
_IDENTITY_AT = CREDENTIAL_FIELDS.index("identity_id")
IDENTITY_FIELDS = ("id", "source_id", "external_id", "name", "kind", "created_at", "privileged", "mfa_active", "owner", "tags", "data")


@dataclass
class Facts:
    credentials: list[CredentialFacts] = field(default_factory=list)
    identities: list[IdentityFacts] = field(default_factory=list)
    sources: list[SourceFacts] = field(default_factory=list)
    snapshot_by_scope: dict[tuple[int, str], int] = field(default_factory=dict)


def load_facts(*, policy: Policy, now: datetime) -> Facts:
    """Present identities and credentials of enabled sources, and each source's coverage, all
    in memory (one credential's page, tests). The evaluation reads the same facts chunk by
    chunk: :func:`load_source_facts` and :func:`iter_fact_chunks`."""
    facts = load_source_facts()
    source_ids = [s.id for s in facts.sources]
    identities: dict[int, IdentityFacts] = {}
    for row in fast_rows(Identity.objects.filter(source_id__in=source_ids, disappeared_at__isnull=True), IDENTITY_FIELDS):
        read = identity_from_row(row)
        identities[read.id] = read
    facts.identities = list(identities.values())

    deactivated = _deactivated_at(Q(credential__source_id__in=source_ids))
    classify = policy.classify
    for row in fast_rows(Credential.objects.filter(source_id__in=source_ids, disappeared_at__isnull=True), CREDENTIAL_FIELDS):
        identity_id = row[_IDENTITY_AT]
        identity = identities.get(identity_id) if identity_id else None
        credential = credential_from_row(row, classify=classify, identity=identity, deactivated_at=deactivated.get(row[0]))
        if identity is not None:
            identity.credentials.append(credential)
        facts.credentials.append(credential)
    if facts.credentials:
        attach_reviews(facts.credentials, now=now, source_ids=source_ids)
    return facts


@dataclass
class FactChunk:
    """Identities with all their present credentials, or credentials of no present identity."""

    credentials: list[CredentialFacts]
    identities: list[IdentityFacts]
    # (subject type, id) -> the group revision read before (or with) its facts: the identity's for
    # an identity and its credentials, the credential's own for one of no present identity
    # (apps/inventory/fact_revision.py). A write after that read changes it.
    revisions: dict[tuple[str, int], int] = field(default_factory=dict)


def iter_fact_chunks(
    *, policy: Policy, now: datetime, source_ids: list[int], size: int = 5000, skip_table: str | None = None
) -> Iterator[FactChunk]:
    """The facts :func:`load_facts` reads, ``size`` identities (with their credentials) or ``size``
    credentials of no present identity at a time, so memory stays flat in the inventory's size.
    A credential is always in the chunk of its identity (rules read ``identity.credentials``).
    A fixed number of queries per chunk. ``skip_table``: a table of ``(subject_type, subject_id)``
    rows; identities (with their credentials) and credentials of no present identity listed there
    are not read (an incremental evaluation carries them without reading them)."""
    present_identities = Identity.objects.filter(source_id__in=source_ids, disappeared_at__isnull=True)
    present = Credential.objects.filter(source_id__in=source_ids, disappeared_at__isnull=True)
    identities_read, loose_read = present_identities, present
    if skip_table is not None:
        identities_read = _not_in(present_identities, skip_table, "identity")
        loose_read = _not_in(present, skip_table, "credential")
    classify = policy.classify
    batch: list[IdentityFacts] = []
    revisions: dict[tuple[str, int], int] = {}
    credential_table = CREDENTIAL_TABLE

    def identities_chunk(identities: list[IdentityFacts], revisions: dict[tuple[str, int], int]) -> FactChunk:
        by_id = {i.id: i for i in identities}
        ordered = present.filter(identity_id__in=id_set(list(by_id))).order_by("identity_id", "source_id", "credential_type", "name", "id")
        rows = list(fast_rows(ordered, CREDENTIAL_FIELDS))
        chunk = _chunk(rows, by_id, classify, now, identities)
        # Read with the identity row, before its credentials: a later write to any changes it.
        for credential in chunk.credentials:
            assert credential.identity is not None
            revisions[("credential", credential.id)] = revisions[("identity", credential.identity.id)]
        chunk.revisions = revisions
        return chunk

    identity_rows = identities_read.extra(select=REVISION_SELECT(IDENTITY_TABLE)).order_by("id")  # noqa: S610 - constant names
    for row in fast_rows(identity_rows, (*IDENTITY_FIELDS, REVISION), size, server_side=True):
        identity = identity_from_row(row[:-1])
        batch.append(identity)
        revisions[("identity", identity.id)] = row[-1]
        if len(batch) >= size:
            yield identities_chunk(batch, revisions)
            batch, revisions = [], {}
    if batch:
        yield identities_chunk(batch, revisions)
    # No identity, or one that is not present (disappeared, or of a disabled source): an anti-join.
    loose = loose_read.filter(Q(identity_id__isnull=True) | ~Q(identity_id__in=present_identities.values("id"))).order_by("id")
    loose = loose.extra(select=REVISION_SELECT(credential_table))  # noqa: S610 - constant names
    rows: list[tuple] = []
    for row in fast_rows(loose, (*CREDENTIAL_FIELDS, REVISION), size, server_side=True):
        rows.append(row)
        if len(rows) >= size:
            yield _loose_chunk(rows, classify, now)
            rows = []
    if rows:
        yield _loose_chunk(rows, classify, now)


def _not_in(qs, skip_table: str, subject_type: str):
    table = qs.model._meta.db_table
    return qs.extra(  # noqa: S610 - constant names; the subject type a parameter
        where=[f'NOT EXISTS (SELECT 1 FROM {skip_table} s WHERE s.subject_type = %s AND s.subject_id = "{table}"."id")'],
        params=[subject_type],
    )


def _loose_chunk(rows: list[tuple], classify, now: datetime) -> FactChunk:
    chunk = _chunk([r[:-1] for r in rows], {}, classify, now, [])
    chunk.revisions = {("credential", r[0]): r[-1] for r in rows}
    return chunk


def _chunk(
    rows: list[tuple], identities: dict[int, IdentityFacts], classify, now: datetime, identity_list: list[IdentityFacts]
) -> FactChunk:
    enabled_at = CREDENTIAL_FIELDS.index("enabled")
    disabled = [r[0] for r in rows if r[enabled_at] is False]  # only a disabled key has a deactivation
    deactivated = _deactivated_at(Q(credential_id__in=id_set(disabled))) if disabled else {}
    credentials = []
    for row in rows:
        identity_id = row[_IDENTITY_AT]
        identity = identities.get(identity_id) if identity_id else None
        credential = credential_from_row(row, classify=classify, identity=identity, deactivated_at=deactivated.get(row[0]))
        if identity is not None:
            identity.credentials.append(credential)
        credentials.append(credential)
    if credentials:
        attach_reviews(credentials, now=now)
    return FactChunk(credentials, identity_list)


def _deactivated_at(which: Q) -> dict[int, datetime]:
    """When a key was deactivated is not in any API answer; the inventory saw it happen."""
    return dict(
        CredentialEvent.objects.filter(
            which,
            kind=CredentialEvent.Kind.DEACTIVATED,
            credential__disappeared_at__isnull=True,
            credential__enabled=False,
        )
        .values("credential_id")
        .annotate(at=Max("observed_at"))
        .values_list("credential_id", "at")
    )


def load_source_facts() -> Facts:
    """Each enabled source's facts and coverage, and the latest snapshot of each of its scopes
    (no identities or credentials yet)."""
    facts = Facts()
    sources = list(Source.objects.filter(enabled=True).order_by("id"))
    source_ids = [s.id for s in sources]

    latest_snapshots = Snapshot.objects.filter(source_id__in=source_ids).values("source_id", "scope").annotate(last=Max("taken_at"))
    last_success = {(row["source_id"], row["scope"]): row["last"] for row in latest_snapshots}
    snapshot_rows = (
        Snapshot.objects.filter(source_id__in=source_ids)
        .order_by("source_id", "scope", "-taken_at")
        .values_list("id", "source_id", "scope", "taken_at", "facts")
    )
    snapshot_facts: dict[tuple[int, str], dict] = {}
    for snap_id, source_id, scope, taken_at, snap_facts in snapshot_rows:
        if taken_at == last_success.get((source_id, scope)):
            facts.snapshot_by_scope[(source_id, scope)] = snap_id
            snapshot_facts[(source_id, scope)] = snap_facts or {}
    latest_units = (
        CollectionUnit.objects.filter(source_id__in=source_ids, status__in=["succeeded", "failed"])
        .values("source_id", "scope")
        .annotate(last=Max("finished_at"))
    )
    last_finished = {(row["source_id"], row["scope"]): row["last"] for row in latest_units}
    unit_rows = CollectionUnit.objects.filter(source_id__in=source_ids, status__in=["succeeded", "failed"]).values_list(
        "source_id", "scope", "finished_at", "status", "errors"
    )
    last_status: dict[tuple[int, str], tuple[str, str]] = {}
    for source_id, scope, finished_at, status, errors in unit_rows.iterator(chunk_size=2000):
        if finished_at == last_finished.get((source_id, scope)):
            message = (errors[-1].get("message", "") if errors and status == "failed" else "")[:300]
            last_status[(source_id, scope)] = (status, message)

    # The source's account-level facts (IAM's password policy and root) come from the latest
    # snapshot of the unit whose connector provides them; None for a kind that has none.
    # A member source without such a unit of its own (a vault discovered in a subscription) has
    # the facts its parent's discovery read about it (``member_facts``, keyed by source key).
    account_level = source_facts_connectors()
    expected = source_scopes(sources)
    own_facts: dict[int, dict | None] = {}
    for source in sources:
        own_facts[source.id] = next(
            (snapshot_facts.get((source.id, scope)) for connector, scope in expected[source.id] if connector in account_level), None
        )
    for source in sources:
        scopes = []
        for connector, scope in expected[source.id]:
            status, message = last_status.get((source.id, scope), ("never", ""))
            scopes.append(ScopeCoverage(scope, connector, last_success.get((source.id, scope)), status, message))
        account_facts = own_facts[source.id]
        if account_facts is None and source.parent_id is not None:
            member_facts = (own_facts.get(source.parent_id) or {}).get("member_facts")
            if isinstance(member_facts, dict) and isinstance(member_facts.get(source.source_key), dict):
                account_facts = member_facts[source.source_key]
        facts.sources.append(
            SourceFacts(source.id, source.name, source.kind, source.enabled, source.schedule_minutes, account_facts, scopes)
        )
    return facts


def identity_from_row(row: tuple) -> IdentityFacts:
    """An identity's facts from a row of ``IDENTITY_FIELDS``."""
    identity = IdentityFacts(*row)
    identity.tags = identity.tags or {}
    identity.data = identity.data or {}
    return identity


def credential_from_row(
    row: tuple, *, classify: Callable[[str, str, dict], str], identity: IdentityFacts | None, deactivated_at: datetime | None = None
) -> CredentialFacts:
    """A credential's facts from a row of ``CREDENTIAL_FIELDS``. ``deactivated_at``: when the
    inventory saw it deactivated, the change time if no API answer gave one."""
    (cid, source_id, scope, ctype, ext, name, _identity_id, enabled, created, rotated, used, changed, expires, nbf, rot_enabled,
     rot_days, next_rot, deleted, owner, tags, attributes) = row  # fmt: skip
    tags = tags or {}
    if changed is None:
        changed = deactivated_at
    return CredentialFacts(cid, source_id, scope, ctype, ext, name, classify(ctype, name, tags), enabled, created, rotated, used, changed,
                           expires, nbf, rot_enabled, rot_days, next_rot, deleted, owner, tags, attributes or {}, identity)  # fmt: skip


def attach_reviews(credentials: list[CredentialFacts], *, now: datetime, source_ids: list[int] | None = None) -> None:
    """Each credential's latest signed-off review decision and its overdue remediation
    (``CredentialFacts.last_review``, ``.overdue_remediation``), as the access reviews record
    them. The reviews sit above the evaluation, so they provide this through the plug point
    ``settings.KEYTRAIL_REVIEW_FACTS`` (config/pipeline.py) instead of being imported here."""
    import_string(settings.KEYTRAIL_REVIEW_FACTS)(credentials, now=now, source_ids=source_ids)
