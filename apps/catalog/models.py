from django.db import models

from apps.catalog.loader import coverage_of


class CatalogVersion(models.Model):
    """One loaded version of a catalog file; the file's SHA-256 makes loading idempotent."""

    catalog_id = models.CharField(max_length=64)
    version = models.CharField(max_length=32)
    title = models.CharField(max_length=300)
    sha256 = models.CharField(max_length=64)
    loaded_at = models.DateTimeField(auto_now_add=True)
    requirement_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-loaded_at"]
        constraints = [models.UniqueConstraint(fields=["catalog_id", "version"], name="catalog_version_unique")]

    def __str__(self) -> str:
        return f"{self.catalog_id} {self.version}"


class Clause(models.Model):
    ref = models.CharField(max_length=16, unique=True)
    title = models.CharField(max_length=200)
    summary = models.TextField(blank=True)

    class Meta:
        ordering = ["ref"]

    def __str__(self) -> str:
        return f"{self.ref} {self.title}"


class Requirement(models.Model):
    """A testable sub-requirement of a clause, paraphrased from guidance material."""

    ref = models.CharField(max_length=16, unique=True)
    clause = models.ForeignKey(Clause, on_delete=models.PROTECT, related_name="requirements")
    topic = models.SlugField(max_length=64, unique=True)
    title = models.CharField(max_length=120)
    statement = models.TextField()
    guidance = models.TextField(blank=True)
    evidence = models.JSONField(default=list, blank=True)
    rule_ids = models.JSONField(default=list, blank=True)
    automatable = models.BooleanField(default=False)
    # What the rules prove and what rests on manual evidence (ADR 0016); blank without rules.
    rules_cover = models.TextField(blank=True, default="")
    manual_evidence_for = models.TextField(blank=True, default="")
    position = models.PositiveIntegerField(default=0)
    introduced_in = models.ForeignKey(CatalogVersion, on_delete=models.PROTECT, related_name="+")
    updated_in = models.ForeignKey(CatalogVersion, on_delete=models.PROTECT, related_name="+")
    retired_in = models.ForeignKey(CatalogVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["position", "ref"]

    def __str__(self) -> str:
        return f"{self.ref} {self.title}"

    @property
    def is_retired(self) -> bool:
        return self.retired_in_id is not None

    @property
    def coverage(self) -> str:
        """``rules`` | ``partial`` | ``manual``: how this requirement is proven (ADR 0016)."""
        return coverage_of(list(self.rule_ids or []), self.manual_evidence_for)

    @property
    def manual_part(self) -> str:
        """What manual evidence must show: the stated part, or all of it when no rule tests it."""
        if not self.rule_ids:
            return "All of it: no rule tests this sub-requirement."
        return self.manual_evidence_for
