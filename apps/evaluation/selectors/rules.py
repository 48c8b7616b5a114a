"""Reads of the rules: what people are shown about each, and each rule with its result in an evaluation."""

from __future__ import annotations

from dataclasses import dataclass

from apps.evaluation.models import Evaluation, RuleResult
from apps.evaluation.rules import registry
from apps.evaluation.rules.base import Rule


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


def load_rule(rule_id: str) -> tuple[Rule | None, str]:
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
    rule, problem = load_rule(rule_id)
    if rule is None:
        return RuleInfo(id=rule_id, problem=problem)
    return RuleInfo(
        id=rule.id,
        title=rule.title,
        severity=rule.severity,
        subject=rule.subject,
        requirements=tuple(rule.requirements),
        explanation=rule.explanation,
    )


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
