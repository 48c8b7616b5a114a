"""The exception register: formal, time-bound, approved exceptions to rules.

An exception names the rules it excuses and a precise scope (credentials, identities,
sources, or a tag); while approved and unexpired it turns the matching failures into
"excepted" (never "passed"). State changes only through services.py; each is audited.
"""

from django.conf import settings
from django.db import models


class ExceptionRequest(models.Model):
    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        PENDING = "pending", "Pending approval"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        EXPIRED = "expired", "Expired"
        REVOKED = "revoked", "Revoked"
        CLOSED = "closed", "Closed"

    class Risk(models.TextChoices):
        LOW = "low", "Low"
        MEDIUM = "medium", "Medium"
        HIGH = "high", "High"
        CRITICAL = "critical", "Critical"

    ref = models.CharField(max_length=16, unique=True)
    title = models.CharField(max_length=200)
    rule_ids = models.JSONField(help_text="The rules this exception excuses.")
    scope = models.JSONField(default=dict, help_text="credential_ids, identity_ids, source_ids, tag {key, value}.")
    scope_is_broad = models.BooleanField(default=False, help_text="Confirmed: the scope is every subject of the rules.")
    justification = models.TextField()
    compensating_controls = models.TextField()
    risk = models.CharField(max_length=16, choices=Risk.choices)
    risk_reason = models.TextField(
        blank=True, help_text="Why the risk is below the highest severity of its rules (required then; shown to approvers)."
    )
    ticket_ref = models.CharField(max_length=100, blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_exceptions")
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="requested_exceptions")
    expires_on = models.DateField(help_text="Last day the exception applies (UTC).")
    state = models.CharField(max_length=16, choices=State.choices, default=State.DRAFT, db_index=True)
    required_approvals = models.PositiveSmallIntegerField(default=1)
    renewal_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="renewals")
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            ("request_exception", "Can request an exception"),
            ("decide_exception", "Can approve or reject exceptions"),
            ("revoke_exception", "Can revoke an approved exception"),
        ]

    def __str__(self) -> str:
        return f"{self.ref} {self.title}"

    @property
    def approvals_count(self) -> int:
        return sum(1 for a in self.decisions.all() if a.decision == ExceptionDecision.Decision.APPROVE)


class ExceptionDecision(models.Model):
    """One approver's decision on one request (a high-risk request may need two)."""

    class Decision(models.TextChoices):
        APPROVE = "approve", "Approve"
        REJECT = "reject", "Reject"

    exception = models.ForeignKey(ExceptionRequest, on_delete=models.PROTECT, related_name="decisions")
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(max_length=16, choices=Decision.choices)
    comment = models.TextField()
    decided_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["decided_at"]
        constraints = [models.UniqueConstraint(fields=["exception", "approver"], name="one_decision_per_approver")]


class ExceptionReminder(models.Model):
    """A reminder sent before expiry; unique per (exception, days before) so none is sent twice."""

    exception = models.ForeignKey(ExceptionRequest, on_delete=models.PROTECT, related_name="reminders")
    days_before = models.PositiveSmallIntegerField()
    sent_at = models.DateTimeField(auto_now_add=True)
    recipients = models.JSONField(default=list)

    class Meta:
        ordering = ["-sent_at"]
        constraints = [models.UniqueConstraint(fields=["exception", "days_before"], name="one_reminder_per_day_mark")]
