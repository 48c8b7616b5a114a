"""Sources, collection runs, and the credential inventory with its history.

History is kept as versions (type-2 slowly changing dimension): a new version row is
written only when a credential's metadata changes, with ``valid_from``/``valid_to``, so
"as of T" is one indexed query and an unchanged repeat collection writes no version rows.
"""

from django.conf import settings
from django.db import models

from apps.connectors.base import LIST_SETTINGS, SETTING_NAMES, SettingField, SourceConfig
from apps.connectors.kinds import CredentialKind, IdentityKind, SourceKind
from apps.connectors.registry import source_spec
from apps.core.models import TimeStampedModel


class Source(TimeStampedModel):
    """A place credentials are collected from: an AWS account (by role), an Azure Key Vault, or
    an AWS organisation, whose accounts are registered by its collections as member sources
    (``parent``) and collected with it."""

    Kind = SourceKind  # the vocabulary lives with the connectors

    name = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    enabled = models.BooleanField(default=True)
    aws_account_id = models.CharField(max_length=12, blank=True)
    role_arn = models.CharField(max_length=2048, blank=True)
    external_id = models.CharField(max_length=1224, blank=True)
    regions = models.JSONField(default=list, blank=True, help_text="Secrets Manager regions (none: every enabled region)")
    vault_url = models.URLField(max_length=300, blank=True)
    member_role_name = models.CharField(max_length=512, blank=True)
    include_ids = models.JSONField(default=list, blank=True, help_text="Organisation: account or OU ids to collect (none: all)")
    exclude_ids = models.JSONField(default=list, blank=True, help_text="Organisation: account or OU ids never collected")
    subscription_ids = models.JSONField(
        default=list, blank=True, help_text="Azure subscription source: subscription ids (none: every subscription of the tenant)"
    )
    tenant_id = models.CharField(max_length=36, blank=True, help_text="Azure subscription source: the tenant (directory) id")
    graph_tenant_id = models.CharField(max_length=36, blank=True, help_text="Entra ID tenant id")
    graph_url = models.URLField(
        max_length=300, blank=True, help_text="Entra ID: Microsoft Graph endpoint (none: https://graph.microsoft.com)"
    )
    # A member account of an organisation source, registered and kept by its collections.
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="members")
    # The source's name in its cloud (AWS account id, vault URL), as its kind's spec derives it:
    # one source per key and kind. Blank only on rows made outside the services (fixtures).
    source_key = models.CharField(max_length=300, blank=True, default="")
    schedule_minutes = models.PositiveIntegerField(default=24 * 60, help_text="Collect at least this often (minutes).")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "source_key"], condition=~models.Q(source_key=""), name="source_key_unique_per_kind")
        ]
        permissions = [
            ("run_collection", "Can start a collection of a source"),
            ("share_source", "Can share a source (its inventory) with other users"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def config(self) -> SourceConfig:
        """The source's settings as the connectors take them (plain data, no model)."""
        values = {name: getattr(self, name) for name in SETTING_NAMES}
        for name in LIST_SETTINGS:
            values[name] = tuple(values[name] or ())
        return SourceConfig(kind=self.kind, **values)

    @property
    def settings_shown(self) -> list[tuple[SettingField, object]]:
        """(setting, value) of each setting of the source's kind, in the order pages show them."""
        return [(setting, getattr(self, setting.name)) for setting in source_spec(self.kind).fields]

    @property
    def regions_note(self) -> str:
        """What no region means for this kind of source ("every enabled region"), or "" if it has no regions."""
        return next((setting.empty for setting in source_spec(self.kind).fields if setting.name == "regions"), "")

    @property
    def location(self) -> str:
        """Where keytrail reaches the source (role ARN, vault URL), as its kind says."""
        return source_spec(self.kind).location(self.config)


class CollectionRun(models.Model):
    """One collection of one or more sources; fans out into units."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        PARTIAL = "partial", "Partial (some units failed)"
        FAILED = "failed", "Failed"

    class Trigger(models.TextChoices):
        MANUAL = "manual", "Started by a person"
        SCHEDULE = "schedule", "Schedule"
        RETRY = "retry", "Retry of failed units"

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.MANUAL)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    retry_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="retries")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"run #{self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in {self.Status.SUCCEEDED, self.Status.PARTIAL, self.Status.FAILED}

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class CollectionUnit(models.Model):
    """One connector call within a run: a source × (IAM | a region | a vault)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    run = models.ForeignKey(CollectionRun, on_delete=models.CASCADE, related_name="units")
    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="units")
    connector = models.CharField(max_length=64)  # registry key
    scope = models.CharField(max_length=400)  # e.g. "aws_secrets_manager:eu-west-1"; credentials belong to one scope
    region = models.CharField(max_length=32, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    task_id = models.CharField(max_length=64, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    api_calls = models.JSONField(default=dict, blank=True)
    errors = models.JSONField(default=list, blank=True)
    counts = models.JSONField(default=dict, blank=True)  # identities, credentials, created, changed, disappeared
    state = models.JSONField(default=dict, blank=True)  # connector's opaque state for next time
    # A unit a discovery found (an enabled region's, a member account's): the discovery unit,
    # and the target when the source's settings alone do not plan it (a discovered region).
    spawned_by = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="spawned")
    target = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["run_id", "source_id", "scope"]
        constraints = [models.UniqueConstraint(fields=["run", "source", "scope"], name="unit_unique_per_run")]

    def __str__(self) -> str:
        return f"{self.source} {self.scope} ({self.status})"


class Snapshot(models.Model):
    """The point-in-time evidence of one successful unit: what the scope held at ``taken_at``.

    ``content_sha256`` hashes the sorted fingerprints of every identity and credential seen,
    so two snapshots of an unchanged scope have the same hash.
    """

    unit = models.OneToOneField(CollectionUnit, on_delete=models.PROTECT, related_name="snapshot")
    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="snapshots")
    scope = models.CharField(max_length=400)
    taken_at = models.DateTimeField(db_index=True)
    identity_count = models.PositiveIntegerField(default=0)
    credential_count = models.PositiveIntegerField(default=0)
    facts = models.JSONField(default=dict, blank=True)  # e.g. password policy, root MFA
    content_sha256 = models.CharField(max_length=64)

    class Meta:
        ordering = ["-taken_at"]
        indexes = [models.Index(fields=["source", "scope", "taken_at"], name="snapshot_scope_time_idx")]

    def __str__(self) -> str:
        return f"snapshot {self.scope} @ {self.taken_at:%Y-%m-%d %H:%M}"


class Identity(models.Model):
    """A human or non-human identity in a source (IAM user, root). Current state + history."""

    Kind = IdentityKind

    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="identities")
    scope = models.CharField(max_length=400)
    external_id = models.CharField(max_length=2048)
    name = models.TextField()
    kind = models.CharField(max_length=16, choices=Kind.choices)
    created_at = models.DateTimeField(null=True, blank=True)
    privileged = models.BooleanField(null=True)
    mfa_active = models.BooleanField(null=True)
    owner = models.CharField(max_length=512, blank=True, db_index=True)
    tags = models.JSONField(default=dict, blank=True)
    data = models.JSONField(default=dict, blank=True)  # groups, policies, MFA devices, attributes
    fingerprint = models.CharField(max_length=64)
    first_seen_at = models.DateTimeField()
    # "last seen" is the time of the scope's latest snapshot while not disappeared: keeping it
    # per row would rewrite every row on every unchanged collection.
    disappeared_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "identities"
        constraints = [models.UniqueConstraint(fields=["source", "external_id"], name="identity_unique_per_source")]
        # The identity list's order within a source (selectors.identity_page): no sort per page.
        indexes = [models.Index(fields=["source", "name", "id"], name="identity_list_order_idx")]

    def __str__(self) -> str:
        return self.name


class Credential(models.Model):
    """A credential's identity across collections plus its current metadata (never a value)."""

    Type = CredentialKind

    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="credentials")
    scope = models.CharField(max_length=400, db_index=True)
    external_id = models.CharField(max_length=2048)
    credential_type = models.CharField(max_length=32, choices=Type.choices, db_index=True)
    name = models.TextField()
    identity = models.ForeignKey(Identity, null=True, blank=True, on_delete=models.PROTECT, related_name="credentials")
    enabled = models.BooleanField(null=True)
    created_at = models.DateTimeField(null=True, blank=True)
    last_rotated_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_changed_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    not_before = models.DateTimeField(null=True, blank=True)
    rotation_enabled = models.BooleanField(null=True)
    rotation_interval_days = models.PositiveIntegerField(null=True, blank=True)
    next_rotation_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    owner = models.CharField(max_length=512, blank=True, db_index=True)
    tags = models.JSONField(default=dict, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    fingerprint = models.CharField(max_length=64)
    first_seen_at = models.DateTimeField()
    # "last seen" is the time of the scope's latest snapshot while not disappeared: keeping it
    # per row would rewrite every row on every unchanged collection.
    disappeared_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["source_id", "credential_type", "name"]
        constraints = [models.UniqueConstraint(fields=["source", "credential_type", "external_id"], name="credential_unique_per_source")]
        indexes = [
            models.Index(fields=["source", "scope"], name="credential_source_scope_idx"),
            # The credential list's order within a source (selectors.credential_page): no sort per page.
            models.Index(fields=["source", "credential_type", "name", "id"], name="credential_list_order_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_credential_type_display()} {self.name}"

    @property
    def is_present(self) -> bool:
        return self.disappeared_at is None


class VersionBase(models.Model):
    """Metadata as it stood from ``valid_from`` until ``valid_to`` (exclusive; None = current)."""

    data = models.JSONField()
    fingerprint = models.CharField(max_length=64)
    valid_from = models.DateTimeField()
    valid_to = models.DateTimeField(null=True, blank=True)
    first_snapshot = models.ForeignKey(Snapshot, on_delete=models.PROTECT, related_name="+")

    class Meta:
        abstract = True


class CredentialVersion(VersionBase):
    credential = models.ForeignKey(Credential, on_delete=models.PROTECT, related_name="versions")

    class Meta:
        ordering = ["credential_id", "valid_from"]
        indexes = [models.Index(fields=["credential", "valid_from"], name="credversion_time_idx")]


class IdentityVersion(VersionBase):
    identity = models.ForeignKey(Identity, on_delete=models.PROTECT, related_name="versions")

    class Meta:
        ordering = ["identity_id", "valid_from"]


class CredentialEvent(models.Model):
    """What a collection observed happening to a credential (the lifecycle an auditor traces)."""

    class Kind(models.TextChoices):
        APPEARED = "appeared", "Appeared"
        CHANGED = "changed", "Metadata changed"
        ROTATED = "rotated", "Rotated"
        DEACTIVATED = "deactivated", "Deactivated"
        REACTIVATED = "reactivated", "Reactivated"
        DISAPPEARED = "disappeared", "Disappeared"
        REAPPEARED = "reappeared", "Reappeared"

    credential = models.ForeignKey(Credential, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    observed_at = models.DateTimeField(db_index=True)
    snapshot = models.ForeignKey(Snapshot, on_delete=models.PROTECT, related_name="credential_events")
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["credential_id", "observed_at", "id"]
