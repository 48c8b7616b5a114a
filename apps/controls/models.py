from django.conf import settings
from django.db import models

from apps.core.models import TimeStampedModel


class Control(TimeStampedModel):
    """An organisation's control implementing one or more catalog requirements."""

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        PARTIAL = "partial", "Partially implemented"
        IMPLEMENTED = "implemented", "Implemented"
        NOT_APPLICABLE = "not_applicable", "Not applicable"

    class Frequency(models.TextChoices):
        CONTINUOUS = "continuous", "Continuous (every collection)"
        MONTHLY = "monthly", "Monthly"
        QUARTERLY = "quarterly", "Quarterly"
        SEMI_ANNUAL = "semi_annual", "Every six months"
        ANNUAL = "annual", "Annually"

    ref = models.CharField(max_length=32, unique=True)
    title = models.CharField(max_length=200)
    requirements = models.ManyToManyField("catalog.Requirement", related_name="controls", blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_controls")
    narrative = models.TextField(help_text="How the organisation meets the requirements, in prose an auditor can test.")
    implementation_status = models.CharField(max_length=20, choices=Status.choices, default=Status.PLANNED, db_index=True)
    test_frequency = models.CharField(max_length=20, choices=Frequency.choices, default=Frequency.QUARTERLY)
    rule_ids = models.JSONField(default=list, blank=True, help_text="Automated rules that test this control.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["ref"]
        permissions = [
            ("attach_evidence", "Can attach manual evidence to a control"),
            ("share_control", "Can share a control with other users"),
        ]

    def __str__(self) -> str:
        return f"{self.ref} {self.title}"


def evidence_upload_to(instance: "ControlEvidence", filename: str) -> str:
    # Content-addressed: the stored name is the hash, so a file can never be replaced in place.
    return f"evidence/{instance.sha256[:2]}/{instance.sha256}"


class ImmutableError(Exception):
    """Manual evidence is never modified once stored."""


class ControlEvidence(models.Model):
    """A manual evidence file (policy PDF, training export) attached to a control; immutable."""

    control = models.ForeignKey(Control, on_delete=models.PROTECT, related_name="evidence")
    file = models.FileField(upload_to=evidence_upload_to, max_length=200)
    original_name = models.CharField(max_length=255)
    description = models.CharField(max_length=500, blank=True)
    sha256 = models.CharField(max_length=64, db_index=True)
    size = models.PositiveBigIntegerField()
    content_type = models.CharField(max_length=100)
    effective_date = models.DateField(help_text="The date this evidence speaks for (tested against the audit period).")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-uploaded_at"]
        verbose_name_plural = "control evidence"

    def __str__(self) -> str:
        return f"{self.original_name} ({self.sha256[:12]})"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ImmutableError("manual evidence cannot be modified; attach a new file instead")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableError("manual evidence cannot be deleted")
