"""Access reviews: campaigns over credentials and identities, their frozen items, decisions,
and the remediation of revoke/rotate decisions verified by later collections.

State changes only through services.py; each is audited. A campaign's items are a snapshot
taken when it starts (facts frozen as JSON, population hashed); decisions are final once
made and locked at sign-off; remediation changes state only from what a collection saw,
and every change is appended to RemediationEvent so its state as of any past time is known.
"""

from django.conf import settings
from django.db import models


class JustificationRule(models.TextChoices):
    ALL = "all", "Required for every decision"
    CHANGES = "changes", "Required for revoke and rotate only"


class UndecidedRule(models.TextChoices):
    KEEP_FLAG = "keep_flag", "Keep as-is and flag"
    REVOKE = "revoke", "Mark for revocation"


class CampaignSettings(models.Model):
    """What a campaign and the template it came from share."""

    name = models.CharField(max_length=200)
    scope = models.JSONField(default=dict, help_text="source_ids, credential_types, privileged_only, non_human_only, tag {key, value}.")
    fallback_reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    justification_rule = models.CharField(max_length=16, choices=JustificationRule.choices, default=JustificationRule.ALL)
    undecided_rule = models.CharField(max_length=16, choices=UndecidedRule.choices, default=UndecidedRule.KEEP_FLAG)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True


class CampaignTemplate(CampaignSettings):
    """A recurring campaign: the schedule (django-celery-beat) starts one campaign per run."""

    class Recurrence(models.TextChoices):
        MONTHLY = "monthly", "Monthly"
        QUARTERLY = "quarterly", "Quarterly"
        YEARLY = "yearly", "Yearly"

    recurrence = models.CharField(max_length=16, choices=Recurrence.choices, default=Recurrence.QUARTERLY)
    duration_days = models.PositiveSmallIntegerField(default=21, help_text="Days from start to the due date.")
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_recurrence_display().lower()})"


class Campaign(CampaignSettings):
    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        STARTING = "starting", "Starting"  # queued for a worker, which freezes the population
        ACTIVE = "active", "In review"
        SIGNED_OFF = "signed_off", "Signed off"
        CANCELLED = "cancelled", "Cancelled"

    template = models.ForeignKey(CampaignTemplate, null=True, blank=True, on_delete=models.PROTECT, related_name="campaigns")
    due_date = models.DateField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.DRAFT, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    population_count = models.PositiveIntegerField(null=True, blank=True)
    population_hash = models.CharField(max_length=64, blank=True)
    deadline_applied_at = models.DateTimeField(null=True, blank=True)
    signed_off_at = models.DateTimeField(null=True, blank=True)
    signed_off_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    sign_off_note = models.TextField(blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    start_error = models.TextField(blank=True, help_text="Why the last start, run by a worker, changed nothing.")

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            ("manage_campaign", "Can create, start, reassign within and sign off access-review campaigns"),
            ("share_campaign", "Can share a signed-off campaign (e.g. with an auditor)"),
            ("review_campaign", "Can decide one's own items in a campaign (granted per campaign)"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_locked(self) -> bool:
        return self.state in (self.State.SIGNED_OFF, self.State.CANCELLED)


class ReviewItem(models.Model):
    """One credential (or an identity without credentials) as it stood when the campaign started."""

    class Decision(models.TextChoices):
        KEEP = "keep", "Keep"
        REVOKE = "revoke", "Revoke"
        ROTATE = "rotate", "Rotate"

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="items")
    source = models.ForeignKey("inventory.Source", on_delete=models.PROTECT, related_name="+")
    credential = models.ForeignKey("inventory.Credential", null=True, blank=True, on_delete=models.PROTECT, related_name="review_items")
    identity = models.ForeignKey("inventory.Identity", null=True, blank=True, on_delete=models.PROTECT, related_name="review_items")
    subject = models.TextField()
    facts = models.JSONField()
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="review_items")
    assigned_by_rule = models.CharField(max_length=32)  # credential_owner | identity_owner | fallback | self_review | ...
    decision = models.CharField(max_length=16, choices=Decision.choices, blank=True, db_index=True)
    justification = models.TextField(blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    flagged = models.BooleanField(default=False, help_text="Undecided at the deadline; the campaign's rule decided it.")

    class Meta:
        ordering = ["campaign_id", "id"]
        indexes = [
            # The progress per reviewer is counted from this index alone (selectors.campaign_progress).
            models.Index(fields=["campaign", "reviewer", "decision"], include=["flagged"], name="reviewitem_progress_idx"),
            # A campaign's revoke and rotate decisions: the way to its remediation (selectors.remediation_list, remediation_counts).
            models.Index(fields=["campaign", "decision"], name="reviewitem_decision_idx"),
        ]

    def __str__(self) -> str:
        return self.subject


class ReviewAssignment(models.Model):
    """Every change of an item's reviewer, with why (append-only)."""

    class Reason(models.TextChoices):
        SELF_REVIEW = "self_review", "Self-review refused at start"
        REASSIGNED = "reassigned", "Reassigned by the GRC lead"
        DELEGATED = "delegated", "Delegated by the reviewer"
        DEACTIVATED = "deactivated", "Reviewer deactivated"

    item = models.ForeignKey(ReviewItem, on_delete=models.PROTECT, related_name="assignments")
    from_reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    to_reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=16, choices=Reason.choices)
    note = models.TextField(blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()

    class Meta:
        ordering = ["item_id", "at", "id"]


class ReviewReminder(models.Model):
    """One reminder to one reviewer (the in-app list); unique per mark so none is sent twice."""

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="reminders")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="review_reminders")
    mark = models.CharField(max_length=32)  # "before:7", "overdue:2026-11-30", "manual:<ts>", "escalated:<ts>"
    message = models.TextField()
    sent_at = models.DateTimeField()

    class Meta:
        ordering = ["-sent_at"]
        constraints = [models.UniqueConstraint(fields=["campaign", "reviewer", "mark"], name="one_review_reminder_per_mark")]


class Remediation(models.Model):
    """What a revoke or rotate decision obliges, verified only by a later collection."""

    class State(models.TextChoices):
        OPEN = "open", "Open"
        VERIFIED = "verified", "Verified"
        REOPENED = "reopened", "Reopened"

    item = models.OneToOneField(ReviewItem, on_delete=models.PROTECT, related_name="remediation")
    credential = models.ForeignKey("inventory.Credential", on_delete=models.PROTECT, related_name="remediations")
    action = models.CharField(max_length=16, choices=[("revoke", "Revoke"), ("rotate", "Rotate")])
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="remediations")
    due_date = models.DateField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.OPEN, db_index=True)
    decided_at = models.DateTimeField()
    verified_at = models.DateTimeField(null=True, blank=True)
    verified_by_run = models.ForeignKey("inventory.CollectionRun", null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["due_date", "id"]

    def __str__(self) -> str:
        return f"{self.action} {self.credential}"


class RemediationEvent(models.Model):
    """Append-only log of a remediation's states: its state as of T is the last event at or before T."""

    remediation = models.ForeignKey(Remediation, on_delete=models.PROTECT, related_name="events")
    at = models.DateTimeField()
    state = models.CharField(max_length=16, choices=Remediation.State.choices)
    run = models.ForeignKey("inventory.CollectionRun", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["remediation_id", "at", "id"]
