"""Reads for the posture pages: the latest evaluation, requirement statuses and their trend,
rule results, findings (narrowed to the sources a user may view), policy versions, and the
rules' live verdicts on one credential.

Every read runs a fixed number of queries whatever the size of the inventory. Cloud strings
(subject labels, reasons, tags) are returned as stored: templates and charts escape them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from datetime import timezone as dt_timezone
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from apps.core.permissions import objects_for
from apps.catalog.models import Clause, Requirement
from apps.evaluation.charts import PosturePoint, TrendPoint
from apps.evaluation.engine import EXCEPTED
from apps.evaluation.exceptions import load_exception_matcher
from apps.evaluation.facts import _CRED_FIELDS, _ID_FIELDS, attach_reviews  # one field order for the rules' facts
from apps.evaluation.models import Evaluation, Finding, PolicyVersion, RequirementStatus, RuleResult, Status
from apps.evaluation.policy import DEFAULT_POLICY, Policy, PolicyError, default_policy, policy_from_dict
from apps.evaluation.rules import registry
from apps.evaluation.rules.base import FAIL, PASS, SEVERITIES, CredentialFacts, IdentityFacts, Rule, RuleContext, not_assessed
from apps.inventory.models import Credential, Identity, Snapshot, Source
from apps.inventory.selectors import key_values, visible_sources

MANUAL = "manual"  # display status of a requirement that no rule tests: proven by manual evidence
FINDING_STATUSES = (Status.FAIL, Status.EXCEPTED, Status.NOT_ASSESSED)
TREND_LENGTH = 12


# --- evaluations ---------------------------------------------------------------------------

def latest_evaluation() -> Evaluation | None:
    """The newest evaluation that succeeded (what the posture pages show), or None."""
    return (
        Evaluation.objects.filter(state=Evaluation.State.SUCCEEDED)
        .select_related("policy_version__created_by", "requested_by")
        .order_by("-started_at", "-pk")
        .first()
    )


def latest_attempt() -> Evaluation | None:
    """The newest evaluation whatever its state (to say when one is running or failed)."""
    return Evaluation.objects.order_by("-started_at", "-pk").first()


def evaluation_get(*, pk: int) -> Evaluation:
    return Evaluation.objects.select_related("policy_version", "requested_by").get(pk=pk)


def evaluation_list() -> QuerySet[Evaluation]:
    return Evaluation.objects.select_related("policy_version", "requested_by").order_by("-started_at", "-pk")


def recent_evaluations(*, limit: int = TREND_LENGTH) -> list[Evaluation]:
    """The last ``limit`` succeeded evaluations, oldest first."""
    newest = list(Evaluation.objects.filter(state=Evaluation.State.SUCCEEDED).order_by("-started_at", "-pk")[:limit])
    return newest[::-1]


def evaluation_label(evaluation: Evaluation) -> str:
    return f"#{evaluation.pk} · {evaluation.as_of.astimezone(dt_timezone.utc):%Y-%m-%d %H:%M} UTC"


def display_status(status: str, rule_ids) -> str:
    """A requirement's status as shown: "manual" when no rule tests it, else the stored status."""
    return status if rule_ids else MANUAL


# --- rules -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class RuleInfo:
    """What people are shown about a rule; ``problem`` says why its class is not available."""

    id: str
    title: str = ""
    severity: str = ""
    subject: str = ""
    requirements: tuple[str, ...] = ()
    explanation: str = ""
    problem: str = ""


def _load_rule(rule_id: str) -> tuple[Rule | None, str]:
    """The registered rule, or None and why not (a retired id, or a class that fails to load).

    A rule that cannot be loaded is shown as such; it must not take the pages down with it.
    """
    if rule_id not in registry.RULES:
        return None, "not in the rule registry"
    try:
        return registry.get_rule(rule_id), ""
    except (ImportError, AttributeError) as exc:
        return None, f"the rule could not be loaded: {type(exc).__name__}: {exc}"


def rule_info(rule_id: str) -> RuleInfo:
    rule, problem = _load_rule(rule_id)
    if rule is None:
        return RuleInfo(id=rule_id, problem=problem)
    return RuleInfo(id=rule.id, title=rule.title, severity=rule.severity, subject=rule.subject,
                    requirements=tuple(rule.requirements), explanation=rule.explanation)


def registered_rule_ids() -> list[str]:
    return list(registry.RULES)


@dataclass
class RuleRow:
    rule: RuleInfo
    result: RuleResult | None  # in the evaluation shown; None if the rule did not run in it

    @property
    def severity(self) -> str:
        return self.rule.severity or (self.result.severity if self.result else "")


def rule_rows(*, evaluation: Evaluation | None, rule_ids=None) -> list[RuleRow]:
    """Each rule (every registered one by default) with its result in ``evaluation``: one query."""
    ids = list(rule_ids) if rule_ids is not None else registered_rule_ids()
    results = {}
    if evaluation is not None and ids:
        results = {r.rule_id: r for r in RuleResult.objects.filter(evaluation=evaluation, rule_id__in=ids)}
    return [RuleRow(rule_info(rule_id), results.get(rule_id)) for rule_id in ids]


# --- dashboard -------------------------------------------------------------------------------

@dataclass
class RequirementRow:
    requirement: Requirement
    status: RequirementStatus
    shown_status: str  # pass | fail | excepted | not_assessed | manual
    passed: int
    trend: list[TrendPoint] = field(default_factory=list)


@dataclass
class ClauseGroup:
    clause: Clause
    rows: list[RequirementRow] = field(default_factory=list)


@dataclass
class Dashboard:
    evaluation: Evaluation | None
    attempt: Evaluation | None  # the newest evaluation of any state
    clauses: list[ClauseGroup]
    totals: dict[str, int]  # requirements per shown status in the latest evaluation
    history: list[PosturePoint]


def posture_dashboard() -> Dashboard:
    """The latest evaluation's requirement statuses grouped by clause, each with its trend
    over the last evaluations, and the overall posture per evaluation. Five queries."""
    evaluation = latest_evaluation()
    attempt = latest_attempt()
    if evaluation is None:
        return Dashboard(None, attempt, [], {}, [])
    evaluations = recent_evaluations()
    if evaluation.pk not in {e.pk for e in evaluations}:  # started earlier but finished later than the rest
        evaluations = (evaluations + [evaluation])[-TREND_LENGTH:]
    labels = {e.pk: evaluation_label(e) for e in evaluations}
    by_requirement: dict[int, dict[int, tuple]] = defaultdict(dict)
    per_evaluation: dict[int, Counter] = {e.pk: Counter() for e in evaluations}
    rows = RequirementStatus.objects.filter(evaluation_id__in=list(labels)).values_list(
        "evaluation_id", "requirement_id", "status", "population", "failed", "excepted", "not_assessed", "rule_ids")
    for eval_id, req_id, status, population, failed, excepted, na, rule_ids in rows:
        shown = display_status(status, rule_ids)
        by_requirement[req_id][eval_id] = (shown, population, failed, excepted, na)
        per_evaluation[eval_id][shown] += 1

    groups: dict[int, ClauseGroup] = {}
    totals: Counter = Counter()
    statuses = (
        RequirementStatus.objects.filter(evaluation=evaluation)
        .select_related("requirement__clause")
        .order_by("requirement__position", "requirement__ref")
    )
    for rs in statuses:
        shown = display_status(rs.status, rs.rule_ids)
        totals[shown] += 1
        trend = []
        for e in evaluations:
            seen = by_requirement[rs.requirement_id].get(e.pk)
            trend.append(TrendPoint(labels[e.pk], *seen) if seen else TrendPoint(labels[e.pk]))
        row = RequirementRow(rs.requirement, rs, shown, max(0, rs.population - rs.failed - rs.excepted - rs.not_assessed), trend)
        clause = rs.requirement.clause
        groups.setdefault(clause.pk, ClauseGroup(clause)).rows.append(row)
    history = [
        PosturePoint(labels[e.pk], f"{e.as_of.astimezone(dt_timezone.utc):%m-%d}", dict(per_evaluation[e.pk]))
        for e in evaluations
    ]
    return Dashboard(evaluation, attempt, sorted(groups.values(), key=lambda g: g.clause.ref), dict(totals), history)


def requirement_status_in(*, evaluation: Evaluation | None, requirement: Requirement) -> RequirementStatus | None:
    if evaluation is None:
        return None
    return RequirementStatus.objects.filter(evaluation=evaluation, requirement=requirement).first()


def requirement_rule_ids(*, requirement: Requirement, status: RequirementStatus | None) -> list[str]:
    """The rules that test ``requirement``: the catalog's, then any the evaluation used besides."""
    ids = list(requirement.rule_ids or [])
    for rule_id in (status.rule_ids if status else None) or []:
        if rule_id not in ids:
            ids.append(rule_id)
    return ids


# --- findings --------------------------------------------------------------------------------

def finding_list(*, user, evaluation: Evaluation, rule_ids=None, rule: str = "", status: str = "", severity: str = "",
                 source: str = "", q: str = "") -> QuerySet[Finding]:
    """The findings of ``evaluation`` about sources ``user`` may view, filtered, in a stable
    order; the source joined in (a subject's link needs only the ids stored on the finding)."""
    qs = Finding.objects.filter(evaluation=evaluation)
    if not sees_every_source(user=user):
        # Everyone else's view is narrowed; for those who see every source the filter would
        # only make PostgreSQL join every finding to the sources (a finding's source is never deleted).
        qs = qs.filter(source__in=visible_sources(user=user))
    if rule_ids is not None:
        qs = qs.filter(rule_id__in=list(rule_ids))
    if rule:
        qs = qs.filter(rule_id=rule)
    if status in FINDING_STATUSES:
        qs = qs.filter(status=status)
    if severity in SEVERITIES:
        qs = qs.filter(severity=severity)
    if source.isdigit():
        qs = qs.filter(source_id=int(source))
    if q:
        qs = qs.filter(subject_label__icontains=q)
    # ``data`` (the values judged on) is not shown in lists: left unloaded.
    return qs.select_related("source").defer("data").order_by("rule_id", "status", "pk")


def sees_every_source(*, user) -> bool:
    """True if ``user`` views every source through a role (no finding is hidden from them)."""
    return bool(getattr(user, "is_authenticated", False)) and user.has_perm("inventory.view_source")


# --- credential verdicts -----------------------------------------------------------------

def _credential_facts(row: tuple, policy: Policy, identity: IdentityFacts | None) -> CredentialFacts:
    # The same construction as apps.evaluation.facts.load_facts, for one row.
    (cid, source_id, scope, ctype, ext, name, _identity_id, enabled, created, rotated, used, changed, expires, nbf,
     rot_enabled, rot_days, next_rot, deleted, owner, tags, attributes) = row
    tags = tags or {}
    return CredentialFacts(cid, source_id, scope, ctype, ext, name, policy.classify(ctype, name, tags), enabled, created, rotated,
                           used, changed, expires, nbf, rot_enabled, rot_days, next_rot, deleted, owner, tags, attributes or {}, identity)


def credential_facts(*, credential_id: int, policy: Policy, now: datetime | None = None) -> CredentialFacts | None:
    """The facts the rules judge the credential on, built as ``load_facts`` builds them (its
    identity with that identity's present credentials, its access reviews); None when the
    credential is not in any population: it disappeared, or its source is disabled. At most
    five queries."""
    credential = _credential_facts_only(credential_id=credential_id, policy=policy)
    if credential is not None:
        attach_reviews([credential], now=now or timezone.now())
    return credential


def _credential_facts_only(*, credential_id: int, policy: Policy) -> CredentialFacts | None:
    present = Credential.objects.filter(disappeared_at__isnull=True, source__enabled=True)
    row = present.filter(pk=credential_id).values_list(*_CRED_FIELDS).first()
    if row is None:
        return None
    identity_id = row[_CRED_FIELDS.index("identity_id")]
    identity = None
    if identity_id:
        id_row = Identity.objects.filter(pk=identity_id, disappeared_at__isnull=True).values_list(*_ID_FIELDS).first()
        if id_row is not None:
            identity = IdentityFacts(*id_row)
            identity.tags = identity.tags or {}
            identity.data = identity.data or {}
            for cred_row in present.filter(identity_id=identity_id).values_list(*_CRED_FIELDS):
                identity.credentials.append(_credential_facts(cred_row, policy, identity))
            for credential in identity.credentials:
                if credential.id == credential_id:
                    return credential
    return _credential_facts(row, policy, identity)


@dataclass
class LiveVerdict:
    rule: RuleInfo
    status: str  # pass | fail | excepted | not_assessed
    reason: str
    data: list[tuple[str, str]]
    exception_id: int | None
    snapshot: Snapshot | None
    snapshot_is_findings: bool  # the stored finding's snapshot (else the scope's latest)


@dataclass
class CredentialVerdicts:
    evaluation: Evaluation | None
    policy_version: PolicyVersion | None
    judged_at: datetime
    in_population: bool
    note: str = ""
    verdicts: list[LiveVerdict] = field(default_factory=list)
    unavailable: list[RuleInfo] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def _judge(rule: Rule, subject, ctx: RuleContext):
    # As the engine does: a rule that raises gives "not assessed", never a pass.
    try:
        if not rule.applies(subject):
            return None
        return rule.evaluate(subject, ctx)
    except Exception as exc:  # noqa: BLE001 - a bad value must not take the page down
        return not_assessed(f"the rule could not judge this subject: {type(exc).__name__}: {str(exc)[:300]}")


def credential_verdicts(*, credential: Credential, now: datetime | None = None) -> CredentialVerdicts:
    """Every credential rule whose population includes ``credential``, judged now against the
    policy of the latest evaluation (exceptions applied as the engine applies them), with the
    stored findings of that evaluation for the credential."""
    now = now or timezone.now()
    evaluation = latest_evaluation()
    policy_version = evaluation.policy_version if evaluation else PolicyVersion.objects.order_by("-version").first()
    result = CredentialVerdicts(evaluation, policy_version, now, in_population=False)
    if evaluation is not None:
        result.findings = list(
            Finding.objects.filter(evaluation=evaluation, credential=credential).select_related("snapshot__unit").order_by("rule_id", "pk")
        )
    try:
        policy = policy_from_dict(policy_version.data) if policy_version else default_policy()
    except PolicyError as exc:
        result.note = f"The policy v{policy_version.version} cannot be read: {exc}"
        return result
    subject = credential_facts(credential_id=credential.pk, policy=policy, now=now)
    if subject is None:
        result.note = ("This credential has disappeared, so no rule judges it any more."
                       if credential.disappeared_at else "Its source is disabled, so no rule judges it.")
        return result
    result.in_population = True
    stored = {f.rule_id: f for f in result.findings}
    latest_snapshot = (
        Snapshot.objects.filter(source_id=credential.source_id, scope=credential.scope).select_related("unit")
        .order_by("-taken_at", "-pk").first()
    )
    ctx = RuleContext(policy=policy, now=now)
    matcher = None
    for rule_id in registered_rule_ids():
        rule, problem = _load_rule(rule_id)
        if rule is None:
            result.unavailable.append(RuleInfo(id=rule_id, problem=problem))
            continue
        if rule.subject != "credential":
            continue
        verdict = _judge(rule, subject, ctx)
        if verdict is None:
            continue
        status, exception_id = verdict.status, None
        if status == FAIL:
            matcher = matcher or load_exception_matcher(now)
            exception_id = matcher.match(rule.id, subject)
            status = EXCEPTED if exception_id is not None else FAIL
        elif status != PASS:
            status = Status.NOT_ASSESSED
        finding = stored.get(rule.id)
        snapshot = finding.snapshot if finding is not None and finding.snapshot_id else latest_snapshot
        result.verdicts.append(LiveVerdict(rule_info(rule.id), status, verdict.reason, key_values(verdict.data), exception_id,
                                           snapshot, finding is not None and finding.snapshot_id is not None))
    order = {s: i for i, s in enumerate((FAIL, EXCEPTED, Status.NOT_ASSESSED, PASS))}
    result.verdicts.sort(key=lambda v: (order.get(v.status, 9), v.rule.id))
    return result


# --- policy --------------------------------------------------------------------------------

def policy_in_force() -> tuple[PolicyVersion | None, dict[str, Any]]:
    """The newest stored version (None before the first is stored) and the policy data in force."""
    version = PolicyVersion.objects.select_related("created_by").order_by("-version").first()
    return version, (version.data if version else default_policy().as_dict())


def classification_line(item: dict) -> str:
    """A classification rule as one line of the policy form: ``class: tag key=value`` or ``class: name pattern``."""
    if item.get("tag_key"):
        return f"{item.get('class', '')}: tag {item['tag_key']}={item.get('tag_value', '')}"
    return f"{item.get('class', '')}: name {item.get('name_pattern', '')}"


def _policy_text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "—"
    return str(value)


def policy_changes(old: dict, new: dict) -> list[tuple[str, str, str]]:
    """``[(field, old, new)]`` as text; the rotation mapping per class, classification rules
    as the lines removed and added."""
    rows = []
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if key == "classification":
            before_lines = [classification_line(i) for i in before or [] if isinstance(i, dict)]
            after_lines = [classification_line(i) for i in after or [] if isinstance(i, dict)]
            removed = [line for line in before_lines if line not in after_lines]
            added = [line for line in after_lines if line not in before_lines]
            rows.append((key, "; ".join(removed) or "—", "; ".join(added) or ("reordered" if not removed else "—")))
        elif isinstance(before, dict) or isinstance(after, dict):
            before, after = before if isinstance(before, dict) else {}, after if isinstance(after, dict) else {}
            for sub in sorted(set(before) | set(after), key=str):
                if before.get(sub) != after.get(sub):
                    rows.append((f"{key}.{sub}", _policy_text(before.get(sub)), _policy_text(after.get(sub))))
        else:
            rows.append((key, _policy_text(before), _policy_text(after)))
    return rows


def policy_history() -> list[PolicyVersion]:
    """Every version, newest first, each with ``changes`` against the version before it."""
    versions = list(PolicyVersion.objects.select_related("created_by").order_by("version"))
    previous = None
    for version in versions:
        version.changes = policy_changes(previous.data, version.data) if previous is not None else []
        version.is_first = previous is None
        previous = version
    return versions[::-1]


def policy_display(data: dict[str, Any]) -> dict[str, Any]:
    """The policy in force arranged for its page: rotation rows, thresholds, password policy, tag keys, classification lines.
    A field added since the version was stored shows the default it is read with."""
    data = {**DEFAULT_POLICY, **data}
    rotation = data.get("rotation_days") or {}
    return {
        "rotation": sorted(((str(k), v) for k, v in rotation.items()), key=lambda kv: (kv[0] == "default", kv[0])),
        "thresholds": [(label, data.get(key)) for key, label in THRESHOLD_LABELS],
        "password": [(label, _policy_text(data.get(key))) for key, label in PASSWORD_LABELS],
        "owner_tag_keys": data.get("owner_tag_keys") or [],
        "request_tag_keys": data.get("request_tag_keys") or [],
        "classification": [classification_line(i) for i in data.get("classification") or [] if isinstance(i, dict)],
        "coverage_grace_factor": data.get("coverage_grace_factor"),
    }


THRESHOLD_LABELS = (
    ("unused_days", "Key unused for more than (days)"),
    ("console_unused_days", "Console password unused for more than (days)"),
    ("inactive_key_max_days", "Inactive key kept at most (days)"),
    ("sm_not_accessed_days", "Secrets Manager secret not accessed for more than (days)"),
    ("kv_expiry_warning_days", "Key Vault expiry warning (days before)"),
    ("kv_max_validity_days", "Key Vault maximum validity (days)"),
    ("review_interval_days", "Privileged and non-human credentials reviewed at least every (days)"),
)
PASSWORD_LABELS = (
    ("password_min_length", "Minimum length"),
    ("password_max_age_days", "Maximum age (days)"),
    ("password_reuse_prevention", "Previous passwords remembered"),
    ("password_require_symbols", "Require symbols"),
    ("password_require_numbers", "Require numbers"),
    ("password_require_uppercase", "Require uppercase"),
    ("password_require_lowercase", "Require lowercase"),
)


def source_choices(*, user) -> QuerySet[Source]:
    return visible_sources(user=user).only("id", "name").order_by("name")


def controls_for(*, user, requirement: Requirement):
    from apps.controls.models import Control

    return (
        objects_for(user, "controls.view_control", Control.objects.filter(requirements=requirement))
        .select_related("owner").order_by("ref")
    )

