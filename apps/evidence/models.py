"""Engagements (an audit's scope and period, shared with its auditors) and the evidence
packs built for them.

A pack is immutable once built: its zip is stored under its SHA-256 (content-addressed,
like manual evidence) and the model refuses any change after the build finishes. Building
again makes a new pack.
"""

from django.conf import settings
from django.db import models


class Engagement(models.Model):
    """An audit: what is in scope (sources, sub-requirements) and the period it covers."""

    name = models.CharField(max_length=200)
    sources = models.ManyToManyField(
        "inventory.Source", related_name="engagements", blank=True, help_text="Sources in scope; none selected means every source."
    )
    requirements = models.ManyToManyField(
        "catalog.Requirement",
        related_name="engagements",
        blank=True,
        help_text="Sub-requirements in scope; none selected means all of 9.2.4 and 9.3.1.",
    )
    period_start = models.DateField()
    period_end = models.DateField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            ("build_pack", "Can build an evidence pack for an engagement"),
            ("share_engagement", "Can share an engagement with auditors"),
        ]

    def __str__(self) -> str:
        return self.name


def pack_upload_to(instance: "Pack", filename: str) -> str:
    # Content-addressed: the stored name is the hash, so a pack can never be replaced in place.
    return f"packs/{instance.sha256[:2]}/{instance.sha256}.zip"


class PackImmutable(Exception):
    """A built pack never changes; build a new one instead."""


class Pack(models.Model):
    """One build of an engagement's evidence as of a point in time."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        BUILDING = "building", "Building"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    engagement = models.ForeignKey(Engagement, on_delete=models.PROTECT, related_name="packs")
    pack_id = models.CharField(max_length=40, unique=True, help_text="Printed on every page and in the manifest.")
    as_of = models.DateTimeField()
    sample_size = models.PositiveIntegerField(default=25)
    sample_seed = models.BigIntegerField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED, db_index=True)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent done.")
    stage = models.CharField(max_length=80, blank=True)
    error = models.TextField(blank=True)
    file = models.FileField(upload_to=pack_upload_to, max_length=200, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, db_index=True, help_text="SHA-256 of the zip.")
    size = models.PositiveBigIntegerField(default=0)
    pack_hash = models.CharField(max_length=64, blank=True, help_text="The manifest's hash over every file's hash.")
    data_sha256 = models.CharField(max_length=64, blank=True, help_text="SHA-256 of pack.json.")
    file_hashes = models.JSONField(default=dict, blank=True)
    timings = models.JSONField(default=dict, blank=True, help_text="Seconds per build stage.")
    built_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.pack_id

    def save(self, *args, **kwargs):
        if not self._state.adding:
            stored = type(self).objects.filter(pk=self.pk).values_list("state", flat=True).first()
            if stored in (self.State.SUCCEEDED, self.State.FAILED):
                raise PackImmutable(f"pack {self.pack_id} is finished and never changes; build a new one")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PackImmutable("packs are kept; they are never deleted")

    @property
    def is_finished(self) -> bool:
        return self.state in {self.State.SUCCEEDED, self.State.FAILED}

    @property
    def filename(self) -> str:
        return f"keytrail-pack-{self.pack_id}.zip"
