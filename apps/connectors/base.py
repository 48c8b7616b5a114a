"""The contract every connector fulfils.

A connector reads credential *metadata* from one cloud service for one collection
target (an AWS account's IAM, one Secrets Manager region, one Key Vault) and returns
plain dataclasses. It never touches the ORM, never builds API clients at import time,
and never reads a secret's value (no GetSecretValue, no ``get_secret``).

Contract, for a class registered in :mod:`apps.connectors.registry`:

``Connector.kind``
    The registry key, e.g. ``"aws_iam"``.
``Connector.source``
    The :class:`SourceSpec` of the kind of source it serves (e.g. an AWS account): the
    source's settings, how they are validated, its stable key. Connectors serving the same
    kind of source (IAM and Secrets Manager both serve an AWS account) share one spec.
``Connector.credential_kinds`` / ``Connector.identity_kinds``
    The :mod:`apps.connectors.kinds` values its records carry.
``Connector.discovers``
    ``True`` for a discovery connector (no credential kinds; see ``collect`` below).
``Connector.provides_source_facts``
    ``True`` for the one connector of a source kind whose snapshot facts are the source's
    account-level facts (IAM: password policy, root), which rules read as ``SourceFacts``.
``Connector.targets(config) -> list[Target]``
    The collection units this connector contributes for a validated :class:`SourceConfig`
    (IAM: one; Secrets Manager: one per region; Key Vault: one).

``Connector().collect(target, *, previous_state=None) -> CollectionResult``
    Reads everything for ``target`` and returns it. ``previous_state`` is the opaque
    ``CollectionResult.state`` this connector returned for the same target last time
    (or ``None``); a connector may use it to skip work on an unchanged target.
    Raises :class:`ConnectorError` (or a subclass) when the target as a whole cannot be
    collected (role not assumable, vault refuses the token, throttled beyond retries).
    Problems with single items (one user's keys could not be listed, one malformed
    entry) do not raise: they are appended to ``CollectionResult.errors`` and the rest
    is returned.
    A *discovery* connector (the enabled regions of an account, an organisation's accounts)
    collects no credentials itself: it returns the units to collect next in
    ``CollectionResult.spawn`` / ``CollectionResult.members``, which the inventory turns
    into units of the same run, each its own task on the workers.

Streaming (ADR 0014). A connector with ``streams = True`` implements
``collect_stream(target, *, previous_state=None) -> CollectionResult`` instead: it makes the
whole-target calls (which may raise ``ConnectorError`` as above) and returns a result whose
``stream`` is an iterator of :class:`Batch` (identities and credentials, a few thousand at a
time). The inventory persists each batch as it comes, so the collecting process never holds
the whole estate. ``facts``, ``state``, ``errors`` and ``api_calls`` are complete only once
``stream`` is exhausted. A ``ConnectorError`` raised while iterating fails the unit like one
raised by ``collect`` (nothing of it is applied). ``collect`` still works for every connector:
for a streaming one it drains the stream into the lists (tests, the bare-SDK comparison).
The inventory calls ``Connector.open``, which picks one or the other by ``streams``.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from apps.connectors.kinds import CredentialKind, IdentityKind, SourceKind


class ConnectorError(Exception):
    """A target could not be collected. ``code`` is a short machine-readable reason."""

    def __init__(self, message: str, *, code: str = "error", retryable: bool = False):
        super().__init__(message)
        self.code = code
        self.retryable = retryable


@dataclass(frozen=True)
class SettingField:
    """One setting of a kind of source, as forms, the command line and messages name it."""

    name: str  # the SourceConfig attribute it fills (a column of inventory's Source)
    label: str  # also how validation messages start ("Role ARN: expected ...")
    help_text: str = ""
    required: bool = True
    max_length: int = 300
    many: bool = False  # a list of values, typed separated by commas or spaces
    derived: bool = False  # set by validation from the other settings: shown, never entered
    empty: str = ""  # what an unset value means, as pages say it ("every enabled region")


@dataclass(frozen=True)
class SourceConfig:
    """A source's settings as plain data, which is all a connector sees of a source.

    Only the settings of its ``kind`` are set; ``aws_account_id`` is derived from the role
    ARN by validation.
    """

    kind: str
    role_arn: str = ""
    external_id: str = ""
    regions: tuple[str, ...] = ()
    vault_url: str = ""
    aws_account_id: str = ""
    member_role_name: str = ""  # an AWS organisation's role in each member account
    include_ids: tuple[str, ...] = ()  # an AWS organisation's accounts/OUs to collect (none: all)
    exclude_ids: tuple[str, ...] = ()  # ... and to leave out
    subscription_ids: tuple[str, ...] = ()  # an Azure subscription source's subscriptions (none: every one in the tenant)
    tenant_id: str = ""  # an Azure subscription source's tenant (Entra ID directory id)
    graph_tenant_id: str = ""  # an Entra ID tenant's id (a GUID)
    graph_url: str = ""  # the Microsoft Graph endpoint serving it ("": https://graph.microsoft.com)


SETTING_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(SourceConfig) if f.name != "kind")
# The settings that hold a list of values (JSON lists on the model, tuples in a SourceConfig).
LIST_SETTINGS: frozenset[str] = frozenset({"regions", "include_ids", "exclude_ids", "subscription_ids"})


class SourceSpec:
    """How one kind of source is configured: its settings, their validation, its key."""

    kind: ClassVar[SourceKind]
    fields: ClassVar[tuple[SettingField, ...]] = ()
    # What the source key names ("AWS account") and the setting it is derived from: a second
    # source with the same key is refused on that setting ("Role ARN: AWS account ... is already
    # registered as source 'prod'.").
    key_label: ClassVar[str] = ""
    key_setting: ClassVar[str] = ""

    @classmethod
    def validate(cls, config: SourceConfig) -> SourceConfig:
        """Return ``config`` normalised, only this kind's settings kept.

        Raises :class:`apps.core.errors.ValidationFailed` with a message starting with the label of the
        setting it is about (``"Role ARN: ..."``), so a form can show it next to the field.
        """
        raise NotImplementedError

    @classmethod
    def source_key(cls, config: SourceConfig) -> str:
        """The source's stable name in its cloud (AWS account id, vault URL)."""
        raise NotImplementedError

    @classmethod
    def location(cls, config: SourceConfig) -> str:
        """Where keytrail reaches the source, as lists show it (role ARN, vault URL)."""
        raise NotImplementedError


@dataclass(frozen=True)
class Target:
    """What one connector call collects. Only the fields its kind needs are set."""

    kind: str
    source_key: str  # AWS account id or vault URL; stable name of the source
    role_arn: str = ""
    external_id: str = ""
    region: str = ""
    vault_url: str = ""
    # An AWS organisation's discovery only: how member accounts are reached and chosen.
    member_role_name: str = ""
    include_ids: tuple[str, ...] = ()
    exclude_ids: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    # An Azure subscription source's discovery only: which subscriptions, in which tenant.
    subscription_ids: tuple[str, ...] = ()
    tenant_id: str = ""
    # An Entra ID tenant: its id and the Graph endpoint to read it from.
    graph_tenant_id: str = ""
    graph_url: str = ""

    @property
    def unit(self) -> str:
        """Human-readable unit name: ``aws_iam``, ``aws_secrets_manager:eu-west-1``..."""
        detail = self.region or self.vault_url or self.graph_tenant_id
        return f"{self.kind}:{detail}" if detail else self.kind


@dataclass
class IdentityRecord:
    external_id: str  # ARN for AWS users, "arn:aws:iam::<acct>:root" for root
    name: str
    kind: str  # an IdentityKind value
    created_at: datetime | None = None
    tags: dict[str, str] = field(default_factory=dict)
    privileged: bool | None = None  # None: could not be determined
    mfa_active: bool | None = None
    mfa_devices: list[dict[str, Any]] = field(default_factory=list)  # {"serial", "type": virtual|hardware, "enabled_at"}
    groups: list[str] = field(default_factory=list)
    policies: list[str] = field(default_factory=list)  # attached + inline + via groups, names/ARNs
    attributes: dict[str, Any] = field(default_factory=dict)


# Attribute keys that say *as of when* a record's facts stood (e.g. the generation time of
# the IAM credential report they were read from, or when a per-user listing was made), not
# what the credential is. They are kept
# with the record but left out of its metadata fingerprint: a report regenerated every few
# hours must not make every unchanged credential look changed.
AS_OF_ATTRIBUTES = frozenset({"report_generated_at", "listed_at"})


@dataclass
class CredentialRecord:
    external_id: str  # access key id, secret ARN, Key Vault secret id (no version)
    credential_type: str  # a CredentialKind value
    name: str
    identity_external_id: str | None = None  # owning identity, when there is one
    enabled: bool | None = None  # active / enabled
    created_at: datetime | None = None
    last_rotated_at: datetime | None = None  # password last changed, secret last rotated, KV updated
    last_used_at: datetime | None = None  # key last used, password last used, SM last accessed
    last_changed_at: datetime | None = None
    expires_at: datetime | None = None
    not_before: datetime | None = None
    rotation_enabled: bool | None = None
    rotation_interval_days: int | None = None
    next_rotation_at: datetime | None = None
    deleted_at: datetime | None = None  # scheduled deletion date (Secrets Manager)
    tags: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)  # service-specific extras, JSON-safe


@dataclass(frozen=True)
class MemberSource:
    """A source a discovery found inside its own (an organisation's member account), to be
    registered under it and collected in the same run. ``config`` is already valid."""

    source_key: str
    name: str
    config: SourceConfig


@dataclass
class Batch:
    """One page of a streamed collection: identities first, then credentials (which may name
    an identity of this batch or of an earlier one)."""

    identities: list[IdentityRecord] = field(default_factory=list)
    credentials: list[CredentialRecord] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.identities) + len(self.credentials)


# How many records a streaming connector gathers before handing a batch on.
STREAM_BATCH_RECORDS = 2000


@dataclass
class CollectionResult:
    target: Target
    identities: list[IdentityRecord] = field(default_factory=list)
    credentials: list[CredentialRecord] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)  # e.g. {"password_policy": {...} | None}
    api_calls: Counter = field(default_factory=Counter)  # operation name -> count
    errors: list[dict[str, str]] = field(default_factory=list)  # {"code", "message", "item"}
    state: dict[str, Any] = field(default_factory=dict)  # opaque, handed back next time
    # A discovery's findings, collected in the same run as units of their own (fan-out on the
    # workers, never in this call): more units of the same source (the Secrets Manager region
    # units an enabled-region listing found) and member sources (an organisation's accounts).
    # ``members`` is the complete list of members to collect: a member source registered
    # earlier that is not in it is not collected by this run.
    spawn: list[Target] = field(default_factory=list)
    members: list[MemberSource] | None = None
    # A streaming connector's batches (see the module's docstring); None: everything is in the lists.
    stream: Iterator[Batch] | None = field(default=None, repr=False, compare=False)

    def take_batch(self, at_least: int = STREAM_BATCH_RECORDS) -> Batch | None:
        """The records gathered so far as a Batch (the lists emptied) once there are at least
        ``at_least`` of them, else None. A streaming connector appends to the lists as a
        list-returning one does and yields what this hands back."""
        if len(self.identities) + len(self.credentials) < max(at_least, 1):
            return None
        batch = Batch(self.identities, self.credentials)
        self.identities, self.credentials = [], []
        return batch

    def batches(self) -> Iterator[Batch]:
        """Every record, as batches: what is in the lists, then the stream (consumed once)."""
        if self.identities or self.credentials:
            yield Batch(self.identities, self.credentials)
            self.identities, self.credentials = [], []
        stream, self.stream = self.stream, None
        if stream is not None:
            yield from stream

    def materialise(self) -> CollectionResult:
        """Drain the stream into the lists (the list-returning contract)."""
        if self.stream is not None:
            identities, credentials = list(self.identities), list(self.credentials)
            self.identities, self.credentials = [], []
            for batch in self.batches():
                identities.extend(batch.identities)
                credentials.extend(batch.credentials)
            self.identities, self.credentials = identities, credentials
        return self

    def add_error(self, code: str, message: str, item: str = "") -> None:
        self.errors.append({"code": code, "message": message[:2000], "item": item[:500]})


class Connector:
    kind: ClassVar[str] = ""
    source: ClassVar[type[SourceSpec]]
    credential_kinds: ClassVar[tuple[CredentialKind, ...]] = ()
    identity_kinds: ClassVar[tuple[IdentityKind, ...]] = ()
    provides_source_facts: ClassVar[bool] = False
    discovers: ClassVar[bool] = False  # yields no credentials; returns units to spawn (see above)
    streams: ClassVar[bool] = False  # implements collect_stream (see above)

    @classmethod
    def targets(cls, config: SourceConfig) -> list[Target]:
        """The units this connector collects for ``config`` (already validated)."""
        raise NotImplementedError

    def collect(self, target: Target, *, previous_state: dict[str, Any] | None = None) -> CollectionResult:
        if not self.streams:
            raise NotImplementedError
        return self.collect_stream(target, previous_state=previous_state).materialise()

    def collect_stream(self, target: Target, *, previous_state: dict[str, Any] | None = None) -> CollectionResult:
        raise NotImplementedError

    def open(self, target: Target, *, previous_state: dict[str, Any] | None = None) -> CollectionResult:
        """What the inventory calls: ``collect_stream`` for a streaming connector, ``collect``
        (lists, no stream) for any other. Not overridden."""
        if self.streams:
            return self.collect_stream(target, previous_state=previous_state)
        return self.collect(target, previous_state=previous_state)


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


_SCALARS = (str, int, float, bool, type(None))


def as_jsonable(obj: Any) -> Any:
    """Dataclass/record -> JSON-safe structure (datetimes as ISO 8601 strings)."""
    # Exact-type fast paths first: the apply step runs this over every record of a scope.
    kind = type(obj)
    if kind in _SCALARS:
        return obj
    if kind is dict:
        return {str(k): as_jsonable(v) for k, v in obj.items()}
    if dataclasses.is_dataclass(kind) and not isinstance(obj, type):
        return {name: as_jsonable(getattr(obj, name)) for name in _field_names(kind)}
    if dataclasses.is_dataclass(obj):
        return {f.name: as_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, datetime):
        return obj.isoformat()
    if isinstance(obj, dict):
        return {str(k): as_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [as_jsonable(v) for v in obj]
    return obj
