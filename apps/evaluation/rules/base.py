"""The rule contract. Rules are pure functions of inventory facts and policy: no ORM.

A rule class (registered in :mod:`apps.evaluation.rules.registry`) declares:

``id``            stable kebab-case id; the catalog names it under the requirements it tests
``title``         one line shown to people
``severity``      one of SEVERITIES
``subject``       "credential", "identity" or "source": what it judges
``requirements``  catalog refs it tests (a test keeps these and the catalog in step)
``scope_kind``    the connector whose collections feed it ("aws_iam", "aws_secrets_manager",
                  "azure_key_vault"), a tuple of them for rules fed by several, or None for
                  rules about collection itself; used for coverage
``explanation``   what it checks and why, in plain language
``credential_types``  for a credential rule, optional: the credential types its population is
                  drawn from (``applies`` is false for every other type); the engine offers it
                  only credentials of these types. None (the default): any type

and implements

``applies(subject) -> bool``                  is the subject in this rule's population?
``applies_in(subject, ctx) -> bool``           the same under the policy (optional; defaults to ``applies``)
``evaluate(subject, ctx) -> Verdict``          pass, fail or not assessed, with the exact reason
                                               and the values judged on

A rule never passes silently on missing data: if what it needs is unknown it returns
``not_assessed`` with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, ClassVar

# SEVERITIES is defined with the policy (whose finding SLA has a limit per severity), re-exported here.
from apps.evaluation.policy import SEVERITIES as SEVERITIES
from apps.evaluation.policy import Policy

PASS, FAIL, NOT_ASSESSED = "pass", "fail", "not_assessed"


@dataclass(frozen=True, slots=True)
class Verdict:
    status: str
    reason: str
    data: dict[str, Any] = field(default_factory=dict)
    # For a verdict that read ``ctx.now``: the first instant at which it could read differently
    # (status, reason or data) with the same facts; None when the rule did not say. Incremental
    # evaluation (apps/evaluation/incremental.py) carries the verdict only while ``now < until``;
    # a verdict that read the clock without stating ``until`` is judged again every time.
    until: datetime | None = None


# ``Verdict.until`` of a verdict that read the clock but reads the same at any later time.
FOREVER = datetime.max.replace(tzinfo=UTC)


def holding_until(verdict: Verdict, until: datetime | None) -> Verdict:
    """``verdict`` stating until when it holds (see ``Verdict.until``)."""
    return Verdict(verdict.status, verdict.reason, verdict.data, until)


def passed(reason: str, **data: Any) -> Verdict:
    return Verdict(PASS, reason, data)


def failed(reason: str, **data: Any) -> Verdict:
    return Verdict(FAIL, reason, data)


def not_assessed(reason: str, **data: Any) -> Verdict:
    return Verdict(NOT_ASSESSED, reason, data)


@dataclass(slots=True)
class IdentityFacts:
    id: int
    source_id: int
    external_id: str
    name: str
    kind: str  # human | service | root
    created_at: datetime | None
    privileged: bool | None
    mfa_active: bool | None
    owner: str
    tags: dict[str, str]
    data: dict[str, Any]  # groups, policies, mfa_devices, attributes
    credentials: list[CredentialFacts] = field(default_factory=list)  # present credentials of this identity


@dataclass(slots=True)
class CredentialFacts:
    id: int
    source_id: int
    scope: str
    credential_type: str  # console_password | access_key | root_access_key | sm_secret | kv_secret
    external_id: str
    name: str
    credential_class: str  # decided by the policy's classification
    enabled: bool | None
    created_at: datetime | None
    last_rotated_at: datetime | None
    last_used_at: datetime | None
    last_changed_at: datetime | None
    expires_at: datetime | None
    not_before: datetime | None
    rotation_enabled: bool | None
    rotation_interval_days: int | None
    next_rotation_at: datetime | None
    deleted_at: datetime | None
    owner: str
    tags: dict[str, str]
    attributes: dict[str, Any]
    identity: IdentityFacts | None = None
    # From access reviews (apps.reviews), read by load_facts: the latest decision on this
    # credential in a signed-off campaign, and revoke/rotate decisions past their due date that
    # no collection has verified yet. Each a ReviewFact; None / empty when there is none.
    last_review: ReviewFact | None = None
    overdue_remediation: tuple[ReviewFact, ...] = ()


@dataclass(frozen=True, slots=True)
class ReviewFact:
    campaign: str
    decision: str  # keep | revoke | rotate
    decided_at: datetime
    due_date: date | None = None  # remediation only


@dataclass(frozen=True, slots=True)
class ScopeCoverage:
    scope: str  # e.g. "aws_secrets_manager:eu-west-1"
    kind: str  # connector kind
    last_success_at: datetime | None
    last_status: str  # status of the latest finished unit: succeeded | failed | never
    last_error: str = ""


@dataclass(slots=True)
class SourceFacts:
    id: int
    name: str
    kind: str  # aws_account | azure_key_vault
    enabled: bool
    schedule_minutes: int
    iam_facts: dict[str, Any] | None  # facts of the latest aws_iam snapshot (password_policy, root, ...)
    scopes: list[ScopeCoverage] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RuleContext:
    policy: Policy
    now: datetime


class Rule:
    id: ClassVar[str] = ""
    title: ClassVar[str] = ""
    severity: ClassVar[str] = "medium"
    subject: ClassVar[str] = "credential"
    requirements: ClassVar[tuple[str, ...]] = ()
    scope_kind: ClassVar[str | tuple[str, ...] | None] = None
    explanation: ClassVar[str] = ""
    credential_types: ClassVar[frozenset[str] | None] = None

    def applies(self, subject) -> bool:
        return True

    def applies_in(self, subject, ctx: RuleContext) -> bool:
        """Is the subject in the population under ``ctx``'s policy? Override for populations the
        policy decides (a tag key, a list of classes); the default is :meth:`applies`."""
        return self.applies(subject)

    def evaluate(self, subject, ctx: RuleContext) -> Verdict:
        raise NotImplementedError


def days_between(earlier: datetime, later: datetime) -> int:
    """Whole days from ``earlier`` to ``later`` (floor); negative if ``earlier`` is in the future."""
    return (later - earlier).days
