"""The rules' live verdicts on one credential: its facts built as the evaluation builds them, judged
now against the policy of the latest evaluation, with the stored findings of that evaluation."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from apps.evaluation.engine import EXCEPTED
from apps.evaluation.exceptions import load_exception_matcher
from apps.evaluation.facts import CREDENTIAL_FIELDS, IDENTITY_FIELDS, attach_reviews, credential_from_row, identity_from_row
from apps.evaluation.models import Evaluation, Finding, PolicyVersion, Status
from apps.evaluation.policy import Policy, PolicyError, default_policy, policy_from_dict
from apps.evaluation.rules.base import FAIL, PASS, CredentialFacts, Rule, RuleContext, not_assessed
from apps.evaluation.selectors.evaluations import latest_evaluation
from apps.evaluation.selectors.rules import RuleInfo, load_rule, registered_rule_ids, rule_info
from apps.inventory.models import Credential, Identity, Snapshot
from apps.inventory.selectors import key_values


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
    row = present.filter(pk=credential_id).values_list(*CREDENTIAL_FIELDS).first()
    if row is None:
        return None
    identity_id = row[CREDENTIAL_FIELDS.index("identity_id")]
    identity = None
    if identity_id:
        id_row = Identity.objects.filter(pk=identity_id, disappeared_at__isnull=True).values_list(*IDENTITY_FIELDS).first()
        if id_row is not None:
            identity = identity_from_row(id_row)
            for cred_row in present.filter(identity_id=identity_id).values_list(*CREDENTIAL_FIELDS):
                identity.credentials.append(credential_from_row(cred_row, classify=policy.classify, identity=identity))
            for credential in identity.credentials:
                if credential.id == credential_id:
                    return credential
    return credential_from_row(row, classify=policy.classify, identity=identity)


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
        if not rule.applies_in(subject, ctx):
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
        result.note = f"The policy v{policy_version.version if policy_version else '?'} cannot be read: {exc}"
        return result
    subject = credential_facts(credential_id=credential.pk, policy=policy, now=now)
    if subject is None:
        result.note = (
            "This credential has disappeared, so no rule judges it any more."
            if credential.disappeared_at
            else "Its source is disabled, so no rule judges it."
        )
        return result
    result.in_population = True
    stored = {f.rule_id: f for f in result.findings}
    latest_snapshot = (
        Snapshot.objects.filter(source_id=credential.source_id, scope=credential.scope)
        .select_related("unit")
        .order_by("-taken_at", "-pk")
        .first()
    )
    ctx = RuleContext(policy=policy, now=now)
    matcher = None
    for rule_id in registered_rule_ids():
        rule, problem = load_rule(rule_id)
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
        result.verdicts.append(
            LiveVerdict(
                rule_info(rule.id),
                status,
                verdict.reason,
                key_values(verdict.data),
                exception_id,
                snapshot,
                finding is not None and finding.snapshot_id is not None,
            )
        )
    order = {s: i for i, s in enumerate((FAIL, EXCEPTED, Status.NOT_ASSESSED, PASS))}
    result.verdicts.sort(key=lambda v: (order.get(v.status, 9), v.rule.id))
    return result
