"""The engine: populations, verdicts, exceptions, errors inside rules, coverage and roll-up.

The rules here are tiny ones written for the test (the real rules have their own tests):
what is under test is how the engine counts and records whatever a rule says."""

from datetime import UTC, datetime, timedelta

from apps.evaluation.engine import Coverage, Tally, coverage_by_kind, requirement_status, rule_status, run_rules
from apps.evaluation.exceptions import no_exceptions
from apps.evaluation.policy import default_policy
from apps.evaluation.rules.base import Rule, RuleContext, ScopeCoverage, SourceFacts, failed, not_assessed, passed

NOW = datetime(2026, 11, 1, tzinfo=UTC)


class Subject:
    def __init__(self, id, value, source_id=1, scope="aws_iam", name="s"):
        self.id, self.value, self.source_id, self.scope, self.name, self.identity = id, value, source_id, scope, name, None


class Threshold(Rule):
    id, title, severity, subject = "threshold", "value under 10", "high", "credential"

    def applies(self, s):
        return s.value is not None or True

    def evaluate(self, s, ctx):
        if s.value is None:
            return not_assessed("value unknown")
        if s.value == "boom":
            raise ValueError("cannot compare")
        return failed(f"value {s.value} ≥ 10", value=s.value) if s.value >= 10 else passed("ok")


class Matcher:
    def match(self, rule_id, subject):
        return 77 if subject.id == 2 else None


def _run(subjects, matcher=None):
    return run_rules(
        rules=[Threshold()],
        subjects={"credential": subjects},
        ctx=RuleContext(default_policy(), NOW),
        matcher=matcher or no_exceptions(NOW),
    )


def test_counts_and_only_non_passes_are_recorded():
    result = _run([Subject(1, 3), Subject(2, 12), Subject(3, 15), Subject(4, None)])
    tally = result.tallies["threshold"]
    assert (tally.population, tally.failed, tally.not_assessed, tally.excepted) == (4, 2, 1, 0)
    assert [(f.credential_id, f.status) for f in result.findings] == [(2, "fail"), (3, "fail"), (4, "not_assessed")]
    assert result.findings[0].reason == "value 12 ≥ 10" and result.findings[0].data == {"value": 12}


def test_an_approved_exception_makes_a_failure_excepted_not_passed():
    result = _run([Subject(2, 12), Subject(3, 15)], matcher=Matcher())
    assert [(f.credential_id, f.status, f.exception_id) for f in result.findings] == [(2, "excepted", 77), (3, "fail", None)]
    assert result.tallies["threshold"].excepted == 1 and result.tallies["threshold"].failed == 1


def test_a_rule_that_raises_gives_not_assessed_for_that_subject_only():
    result = _run([Subject(1, "boom"), Subject(2, 3)])
    assert [(f.credential_id, f.status) for f in result.findings] == [(1, "not_assessed")]
    assert "ValueError: cannot compare" in result.findings[0].reason


def _source(status, last_success, minutes=60, scope="aws_iam"):
    return SourceFacts(1, "prod", "aws_account", True, minutes, None, [ScopeCoverage(scope, scope.split(":")[0], last_success, status)])


def test_coverage():
    fresh = coverage_by_kind([_source("succeeded", NOW - timedelta(minutes=100))], now=NOW, grace_factor=2.0)
    assert fresh["aws_iam"].covered
    stale = coverage_by_kind([_source("succeeded", NOW - timedelta(minutes=121))], now=NOW, grace_factor=2.0)
    assert not stale["aws_iam"].covered and "last collected" in stale["aws_iam"].note
    broken = coverage_by_kind([_source("failed", NOW - timedelta(minutes=1))], now=NOW, grace_factor=2.0)
    assert not broken["aws_iam"].covered and "failed" in broken["aws_iam"].note
    never = coverage_by_kind([_source("never", None)], now=NOW, grace_factor=2.0)
    assert not never["aws_iam"].covered


def test_rule_status_never_passes_silently():
    ok = Coverage(True)
    assert rule_status(Tally(10, 1, 0, 0), ok) == "fail"
    assert rule_status(Tally(10, 1, 0, 0), Coverage(False)) == "fail"  # a known failure stays a failure
    assert rule_status(Tally(10, 0, 0, 0), Coverage(False)) == "not_assessed"  # a stale source is no pass
    assert rule_status(Tally(10, 0, 0, 1), ok) == "not_assessed"
    assert rule_status(Tally(10, 0, 2, 0), ok) == "excepted"
    assert rule_status(Tally(10, 0, 0, 0), ok) == "pass"
    assert rule_status(Tally(0, 0, 0, 0), ok) == "pass"  # e.g. no root key exists at all


def test_requirement_roll_up():
    assert requirement_status([]) == "not_assessed"
    assert requirement_status(["pass", "excepted", "fail"]) == "fail"
    assert requirement_status(["pass", "not_assessed", "excepted"]) == "not_assessed"
    assert requirement_status(["pass", "excepted"]) == "excepted"
    assert requirement_status(["pass", "pass"]) == "pass"


def test_rule_coverage_for_one_or_several_kinds():
    from apps.evaluation.engine import rule_coverage

    cov = {"aws_iam": Coverage(True), "azure_key_vault": Coverage(False, "kv stale")}
    assert rule_coverage(None, cov).covered
    assert rule_coverage("aws_iam", cov).covered
    assert not rule_coverage("aws_secrets_manager", cov).covered  # no such source: not assessed
    assert not rule_coverage(("aws_iam", "azure_key_vault"), cov).covered
    assert rule_coverage(("aws_iam", "aws_secrets_manager"), cov).covered  # only existing kinds count
    assert not rule_coverage(("aws_secrets_manager",), {}).covered
