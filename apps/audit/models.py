from django.conf import settings
from django.db import models


class AppendOnlyError(Exception):
    """Audit events are never updated or deleted."""


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("audit events cannot be updated")

    def delete(self):
        raise AppendOnlyError("audit events cannot be deleted")


class AuditEvent(models.Model):
    """One state change, append-only, chained to the previous event by its hash.

    ``hash`` = SHA-256 over a canonical JSON of this row's content and ``prev_hash``;
    see :func:`apps.audit.chain.event_digest`. PostgreSQL triggers (migration 0002)
    refuse UPDATE, DELETE and TRUNCATE on the table as well.
    """

    seq = models.BigIntegerField(unique=True)
    occurred_at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor_label = models.CharField(max_length=150)
    event_type = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_repr = models.CharField(max_length=300, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    message = models.TextField(blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    origin = models.CharField(max_length=16, default="web")
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-seq"]
        indexes = [models.Index(fields=["target_type", "target_id", "seq"], name="audit_target_idx")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.event_type} {self.target_type}:{self.target_id}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("audit events cannot be updated")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("audit events cannot be deleted")


class AuditCheckpointQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("audit checkpoints cannot be updated")

    def delete(self):
        raise AppendOnlyError("audit checkpoints cannot be deleted")


class AuditCheckpoint(models.Model):
    """The chain's head at one moment, signed with a key kept outside the database.

    Written at intervals (a beat task) and at every pack build (whose manifest embeds it as
    its ``audit_anchor``). Whoever rewrites the chain with the database's own means (re-hashing,
    renumbering, truncating) cannot sign a matching checkpoint: ``verify_audit_chain`` checks
    the chain against each one (see :mod:`apps.audit.checkpoints`). Append-only like the events.
    """

    class Reason(models.TextChoices):
        INTERVAL = "interval", "interval"
        PACK = "pack", "pack build"
        MANUAL = "manual", "manual"

    seq = models.BigIntegerField(help_text="The head event's sequence number (0: empty chain).")
    head_hash = models.CharField(max_length=64)
    head_at = models.DateTimeField(null=True, blank=True, help_text="When the head event occurred.")
    created_at = models.DateTimeField(db_index=True)
    reason = models.CharField(max_length=16, choices=Reason.choices)
    reference = models.CharField(max_length=64, blank=True, help_text="The pack id for a pack build's checkpoint.")
    payload = models.TextField(help_text="The canonical JSON that was signed.")
    key_id = models.CharField(max_length=16)
    public_key = models.CharField(max_length=64)
    signature = models.CharField(max_length=120)

    objects = AuditCheckpointQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"checkpoint #{self.seq} {self.head_hash[:12]} ({self.reason})"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("audit checkpoints cannot be updated")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("audit checkpoints cannot be deleted")
