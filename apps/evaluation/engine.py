"""Running rules over facts and rolling verdicts up. Pure: no ORM, no clock of its own."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from itertools import repeat
from typing import Any, cast

from apps.evaluation.exceptions import ExceptionMatcher
from apps.evaluation.incremental import ClockWatch
from apps.evaluation.rules.base import FAIL, FOREVER, NOT_ASSESSED, PASS, Rule, RuleContext, SourceFacts, not_assessed

EXCEPTED = "excepted"


@dataclass(slots=True)
class FindingRow:
    rule_id: str
    status: str  # fail | excepted | not_assessed
    severity: str
    subject_type: str
    source_id: int
    credential_id: int | None
    identity_id: int | None
    scope: str
    subject_label: str
    reason: str
    data: dict[str, Any]
    exception_id: int | None = None
    owner: str = ""


@dataclass
class Tally:
    population: int = 0
    failed: int = 0
    excepted: int = 0
    not_assessed: int = 0


@dataclass
class Coverage:
    covered: bool
    note: str = ""


@dataclass
class EngineResult:
    findings: list[FindingRow] = field(default_factory=list)
    tallies: dict[str, Tally] = field(default_factory=dict)


def _subject_ids(subject_type: str, subject) -> tuple[int, int | None, int | None, str, str]:
    if subject_type == "credential":
        return subject.source_id, subject.id, subject.identity.id if subject.identity else None, subject.scope, subject.name
    if subject_type == "identity":
        return subject.source_id, None, subject.id, "aws_iam", subject.name
    return subject.id, None, None, "", subject.name


def _owner(subject_type: str, subject) -> str:
    """Who answers for a subject: the credential's owner, else its identity's (the order in
    which access reviews choose a reviewer); an identity's own; a source has none."""
    if subject_type == "source":
        return ""
    identity = getattr(subject, "identity", None) if subject_type == "credential" else None
    return getattr(subject, "owner", "") or (getattr(identity, "owner", "") if identity is not None else "") or ""


def run_rules(
    *,
    rules: Sequence[Rule],
    subjects: dict[str, Iterable],
    ctx: RuleContext,
    matcher: ExceptionMatcher,
    on_rule_done=None,
    holds: dict[tuple[str, int], list] | None = None,
) -> EngineResult:
    """Judge every subject in every rule's population. A rule that raises gives
    ``not_assessed`` for that subject (recorded with the error), never a pass.
    ``on_rule_done(done, total)``, if given, is called after each rule (progress).

    ``holds``, if given, receives for each subject ``(subject type, id)`` a list
    ``[until, populations]``: the first instant at which one of its verdicts could read
    differently with the same facts (``FOREVER`` if none read the clock; ``ctx.now`` for a
    verdict that read it without stating ``Verdict.until``, or a rule that raised), and a bit
    per rule (its index in ``rules``) whose population it is in. Incremental evaluation stores both."""
    result = EngineResult()
    now = ctx.now
    watch = ClockWatch(ctx) if holds is not None else None
    judge_ctx = cast(RuleContext, watch) if watch is not None else ctx
    if holds is not None:
        for subject_type, population in subjects.items():
            for subject in population:
                holds.setdefault((subject_type, subject.id), [FOREVER, 0])
    findings = result.findings
    match = matcher.match
    # A rule that declares its credential types is offered only those credentials (in their order);
    # one list per distinct set of types, so most rules skip most credentials without a call.
    by_types: dict[frozenset[str], list] = {}
    # Ids, label and owner of a subject with findings, worked out once however many rules fail it.
    described: dict[str, dict[int, tuple]] = {}
    # Each subject's entry in ``holds``, in the order of each population list: looked up once.
    held_lists: dict[tuple[str, int], list] = {}
    for index, rule in enumerate(rules, start=1):
        tally = result.tallies.setdefault(rule.id, Tally())
        bit = 1 << (index - 1)
        rule_id, severity, subject_type = rule.id, rule.severity, rule.subject
        # A population the policy decides (rule overrides applies_in); else the plain, faster check.
        # Given the watched context: a population that reads the clock is judged again next time.
        applies = rule.applies if type(rule).applies_in is Rule.applies_in else partial(rule.applies_in, ctx=judge_ctx)
        evaluate = rule.evaluate
        population = subjects.get(subject_type, ())
        types = rule.credential_types if subject_type == "credential" else None
        if types is not None:
            offered = by_types.get(types)
            if offered is None:
                offered = by_types[types] = [c for c in population if c.credential_type in types]
            population = offered
        helds: Iterable[list | None] = repeat(None)
        if holds is not None:
            listed = held_lists.get((subject_type, id(population)))
            if listed is None:
                listed = held_lists[(subject_type, id(population))] = [holds[(subject_type, s.id)] for s in population]
            helds = listed
        about_subject = described.setdefault(subject_type, {})
        judged = failed = excepted = unassessed = 0
        for subject, held in zip(population, helds, strict=False):  # helds: the same length, or repeat(None)
            if watch is not None:
                watch.read = False
            raised = False
            try:
                if not applies(subject):
                    continue
                verdict = evaluate(subject, judge_ctx)
            except Exception as exc:  # noqa: BLE001 - a bad value must not stop the evaluation
                verdict = not_assessed(f"the rule could not judge this subject: {type(exc).__name__}: {str(exc)[:300]}")
                raised = True  # judged again next time: the error may not recur
            if held is not None:
                held[1] |= bit
                if raised or (watch is not None and watch.read):
                    until = verdict.until if verdict.until is not None and not raised else now
                    if until < held[0]:
                        held[0] = until
            judged += 1
            status = verdict.status
            if status == PASS:
                continue
            exception_id = None
            if status == FAIL:
                exception_id = match(rule_id, subject)
                if exception_id is not None:
                    status = EXCEPTED
                    excepted += 1
                else:
                    failed += 1
            else:
                status = NOT_ASSESSED
                unassessed += 1
            about = about_subject.get(id(subject))
            if about is None:
                about = about_subject[id(subject)] = (*_subject_ids(subject_type, subject), _owner(subject_type, subject))
            source_id, credential_id, identity_id, scope, label, owner = about
            findings.append(
                FindingRow(
                    rule_id,
                    status,
                    severity,
                    subject_type,
                    source_id,
                    credential_id,
                    identity_id,
                    scope,
                    label,
                    verdict.reason,
                    verdict.data,
                    exception_id,
                    owner,
                )
            )
        tally.population += judged
        tally.failed += failed
        tally.excepted += excepted
        tally.not_assessed += unassessed
        if on_rule_done is not None:
            on_rule_done(index, len(rules))
    return result


def coverage_by_kind(sources: Sequence[SourceFacts], *, now: datetime, grace_factor: float) -> dict[str, Coverage]:
    """For each connector kind: are all enabled sources' scopes of that kind collected on time
    and was their latest attempt a success? No scope of a kind at all → not covered."""
    seen: dict[str, list[str]] = {}
    for source in sources:
        if not source.enabled:
            continue
        limit = timedelta(minutes=source.schedule_minutes * grace_factor)
        for scope in source.scopes:
            problems = seen.setdefault(scope.kind, [])
            if scope.last_status != "succeeded" or scope.last_success_at is None:
                problems.append(f"{source.name} {scope.scope}: latest collection {scope.last_status}")
            elif now - scope.last_success_at > limit:
                problems.append(f"{source.name} {scope.scope}: last collected {scope.last_success_at:%Y-%m-%d %H:%M}")
    coverage = {kind: Coverage(not problems, "; ".join(problems)[:500]) for kind, problems in seen.items()}
    return coverage


def rule_coverage(scope_kind, coverage: dict[str, Coverage]) -> Coverage:
    """Coverage of a rule fed by one connector kind (which must exist and be covered) or by
    several (at least one must exist; every one that exists must be covered)."""
    if not scope_kind:
        return Coverage(True)
    if isinstance(scope_kind, str):
        return coverage.get(scope_kind, Coverage(False, f"no source is collected by {scope_kind}"))
    present = [coverage[k] for k in scope_kind if k in coverage]
    if not present:
        return Coverage(False, f"no source is collected by {', '.join(scope_kind)}")
    return Coverage(all(c.covered for c in present), "; ".join(c.note for c in present if c.note)[:500])


def rule_status(tally: Tally, coverage: Coverage) -> str:
    """fail if anything failed; else not assessed if a source was missed or a subject could
    not be judged; else excepted if anything was excepted; else pass (an empty population of
    a covered rule passes: e.g. no root access key exists)."""
    if tally.failed:
        return FAIL
    if not coverage.covered or tally.not_assessed:
        return NOT_ASSESSED
    if tally.excepted:
        return EXCEPTED
    return PASS


def requirement_status(rule_statuses: Sequence[str]) -> str:
    """Roll rules up to a requirement; a requirement no rule tests is not assessed here
    (it is proven with manual evidence on its controls)."""
    if not rule_statuses:
        return NOT_ASSESSED
    for status in (FAIL, NOT_ASSESSED, EXCEPTED):
        if status in rule_statuses:
            return status
    return PASS
