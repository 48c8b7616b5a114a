"""Policy versions, evaluations, and what they found.

Only failures, exceptions and "not assessed" verdicts are stored as Finding rows; a pass is
the absence of a finding for a subject in a rule's population, and each rule's population
size is stored in RuleResult. That keeps an evaluation of 100,000 credentials to a few
thousand rows instead of half a million, without losing what an auditor tests.
"""

from django.conf import settings
from django.db import models


class PolicyVersion(models.Model):
    """One version of the organisation's policy; the newest is in force. Never edited."""

    version = models.PositiveIntegerField(unique=True)
    data = models.JSONField()
    comment = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]
        permissions = [("edit_policy", "Can change the organisation's credential policy")]

    def __str__(self) -> str:
        return f"policy v{self.version}"


class Status(models.TextChoices):
    PASS = "pass", "Pass"
    FAIL = "fail", "Fail"
    EXCEPTED = "excepted", "Excepted"
    NOT_ASSESSED = "not_assessed", "Not assessed"


class RequirementState(models.TextChoices):
    """A requirement's status: its rules' roll-up (pass, fail, excepted, not assessed) or, when no
    rule tests it, what its controls' manual evidence shows (apps/controls/evidence_status.py)."""

    PASS = "pass", "Pass"
    FAIL = "fail", "Fail"
    EXCEPTED = "excepted", "Excepted"
    NOT_ASSESSED = "not_assessed", "Not assessed"
    EVIDENCED = "evidenced", "Evidenced"
    EVIDENCE_MISSING = "evidence_missing", "Evidence missing"
    EVIDENCE_STALE = "evidence_stale", "Evidence stale"


class Evaluation(models.Model):
    class State(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    class Trigger(models.TextChoices):
        MANUAL = "manual", "Started by a person"
        COLLECTION = "collection", "After a collection"
        SCHEDULE = "schedule", "Schedule"
        REVIEW = "review", "After an access review was signed off"

    state = models.CharField(max_length=16, choices=State.choices, default=State.RUNNING, db_index=True)
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.MANUAL)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    collection_run = models.ForeignKey(
        "inventory.CollectionRun", null=True, blank=True, on_delete=models.PROTECT, related_name="evaluations"
    )
    policy_version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="evaluations")
    as_of = models.DateTimeField(help_text="The inventory and the clock the rules judged against.")
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    # While running: {"phase": "loading" | "rules" | "writing", "done": n, "total": n, "percent": 0-100}.
    progress = models.JSONField(default=dict, blank=True)
    # Incremental evaluation (apps/evaluation/incremental.py): subjects (credentials, identities)
    # whose verdicts were carried unchanged from the previous evaluation, and subjects judged
    # afresh; and the key of everything outside a subject's own facts that the rules read.
    carried = models.PositiveIntegerField(default=0, help_text="Subjects whose verdicts were carried from the previous evaluation.")
    judged = models.PositiveIntegerField(default=0, help_text="Subjects judged afresh by the rules.")
    carry_key = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["-started_at"]
        permissions = [("run_evaluation", "Can start an evaluation")]

    def __str__(self) -> str:
        return f"evaluation #{self.pk} ({self.state})"


class RuleResult(models.Model):
    """A rule's population and outcome in one evaluation."""

    evaluation = models.ForeignKey(Evaluation, on_delete=models.CASCADE, related_name="rule_results")
    rule_id = models.CharField(max_length=64)
    severity = models.CharField(max_length=16)
    status = models.CharField(max_length=16, choices=Status.choices)
    population = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    excepted = models.PositiveIntegerField(default=0)
    not_assessed = models.PositiveIntegerField(default=0)
    covered = models.BooleanField(default=True, help_text="Every source feeding the rule was collected on time.")
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["rule_id"]
        constraints = [models.UniqueConstraint(fields=["evaluation", "rule_id"], name="ruleresult_unique")]

    @property
    def passed(self) -> int:
        return max(0, self.population - self.failed - self.excepted - self.not_assessed)


class Finding(models.Model):
    """A subject a rule did not pass: failed, excepted, or not assessable (with the reason).

    Its foreign keys carry no database constraint (``db_constraint=False``): findings are
    written in bulk (COPY) from ids the engine read in the same transaction, and checking
    each row's five references at commit made a 100,000-credential evaluation take 17 s
    instead of the 10 s budget (docs/benchmarks.md). Nothing they point to is ever deleted:
    the inventory marks credentials disappeared, and every referenced model PROTECTs.
    """

    # No single-column index on any foreign key: every read names the evaluation (the composite
    # indexes below lead with it), and each index more costs every written row (docs/benchmarks.md).
    evaluation = models.ForeignKey(Evaluation, on_delete=models.CASCADE, related_name="findings", db_constraint=False, db_index=False)
    rule_id = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices)
    severity = models.CharField(max_length=16)
    subject_type = models.CharField(max_length=16)  # credential | identity | source
    source = models.ForeignKey("inventory.Source", on_delete=models.PROTECT, related_name="+", db_constraint=False, db_index=False)
    credential = models.ForeignKey(
        "inventory.Credential",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="findings",
        db_constraint=False,
        db_index=False,
    )
    identity = models.ForeignKey(
        "inventory.Identity", null=True, blank=True, on_delete=models.PROTECT, related_name="findings", db_constraint=False, db_index=False
    )
    snapshot = models.ForeignKey(
        "inventory.Snapshot", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_constraint=False, db_index=False
    )
    subject_label = models.TextField()
    reason = models.TextField()
    data = models.JSONField(default=dict, blank=True)
    exception_id = models.PositiveIntegerField(null=True, blank=True, help_text="The approved exception that covers it.")
    # The findings queue (failing findings only): who answers for it, since when it has failed
    # without a break (carried from the previous evaluation), and when it is due by the
    # policy's severity SLA.
    owner = models.CharField(max_length=512, blank=True, default="")
    failing_since = models.DateTimeField(null=True, blank=True)
    due_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["rule_id", "id"]
        indexes = [
            # Also the findings list's order (rule, status, id): a page is read along it, and the
            # count of an evaluation's findings is an index-only scan.
            models.Index(fields=["evaluation", "rule_id", "status", "id"], name="finding_eval_rule_order_idx"),
            models.Index(fields=["evaluation", "credential"], name="finding_eval_cred_idx"),
            models.Index(fields=["evaluation", "identity"], name="finding_eval_identity_idx"),
        ]


class RequirementStatus(models.Model):
    """A catalog requirement's status in one evaluation, rolled up from its rules (or, when no rule
    tests it, from its controls' manual evidence)."""

    evaluation = models.ForeignKey(Evaluation, on_delete=models.CASCADE, related_name="requirement_statuses")
    requirement = models.ForeignKey("catalog.Requirement", on_delete=models.PROTECT, related_name="statuses")
    status = models.CharField(max_length=16, choices=RequirementState.choices)
    population = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    excepted = models.PositiveIntegerField(default=0)
    not_assessed = models.PositiveIntegerField(default=0)
    rule_ids = models.JSONField(default=list)
    # A requirement its rules prove only in part (catalog ``manual_evidence_for``, ADR 0016): what its
    # controls' manual evidence shows for the rest (evidenced, evidence_missing, evidence_stale); blank
    # when the rules prove all of it, or when no rule tests it (then ``status`` is that evidence status).
    manual_status = models.CharField(max_length=16, blank=True, default="")

    class Meta:
        ordering = ["requirement__position"]
        constraints = [models.UniqueConstraint(fields=["evaluation", "requirement"], name="reqstatus_unique")]


class SubjectCarry(models.Model):
    """What incremental evaluation needs to carry a subject's verdicts to the next evaluation: the
    fingerprint of every fact its rules could read, until when its verdicts hold (None: as long
    as the facts stay the same), and the rules whose population it is in (a bit per rule, in the
    rule set's order, as hex). One row per judged or carried credential and identity; only the
    latest successful evaluation's rows are kept (docs/adr/0013-incremental-evaluation.md).
    Written with COPY, hence no database constraint on the evaluation."""

    evaluation = models.ForeignKey(Evaluation, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False)
    subject_type = models.CharField(max_length=16)  # credential | identity
    subject_id = models.BigIntegerField()
    fingerprint = models.CharField(max_length=32)
    valid_until = models.DateTimeField(null=True, blank=True)
    populations = models.TextField(blank=True, default="0")
    # The subject's group revision read with its facts (apps/inventory/fact_revision.py): its
    # identity's for an identity and its credentials, its own for a credential of no present
    # identity. An evaluation carries a subject without reading it while that is unchanged.
    fact_revision = models.BigIntegerField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["evaluation", "subject_type", "subject_id"], name="carry_eval_subject_idx")]
