import pytest

from apps.evaluation.rules.coverage import SourceCoverage
from tests.evaluation.rules.facts import NOW, ago, ahead, ctx, scope, source


def _aws(*scopes, **fields):
    return source(scopes=scopes or (scope("aws_iam"), scope("aws_secrets_manager:eu-west-1")), **fields)


def test_all_scopes_fresh_passes():
    verdict = SourceCoverage().evaluate(_aws(), ctx())
    assert verdict.status == "pass" and verdict.data["problem_scopes"] == 0
    assert verdict.reason == "source prod-aws: all 2 scope(s) collected within 2 hours (60 min schedule × 2)"


@pytest.mark.parametrize("minutes, status", [(119, "pass"), (120, "pass"), (121, "fail")])
def test_staleness_boundary_is_schedule_times_grace(minutes, status):
    verdict = SourceCoverage().evaluate(_aws(scope("aws_iam", last_success_at=ago(minutes=minutes))), ctx())
    assert verdict.status == status


def test_grace_factor_follows_the_policy():
    s = _aws(scope("aws_iam", last_success_at=ago(minutes=150)))
    assert SourceCoverage().evaluate(s, ctx(coverage_grace_factor=3)).status == "pass"
    verdict = SourceCoverage().evaluate(s, ctx(coverage_grace_factor=1.5))
    assert verdict.status == "fail"
    assert verdict.reason.endswith("stale, last succeeded 2026-11-01 09:30 UTC, 2.5 hours ago; limit 90 minutes (60 min schedule × 1.5)")


def test_failed_and_never_collected_scopes_are_named_with_their_last_success():
    s = _aws(
        scope("aws_iam", status="failed", last_success_at=NOW.replace(hour=9), error="AccessDenied on AssumeRole"),
        scope("aws_secrets_manager:eu-west-1", status="never", last_success_at=None),
        scope("aws_secrets_manager:us-east-1", last_success_at=ago(3)),
    )
    verdict = SourceCoverage().evaluate(s, ctx())
    assert verdict.status == "fail" and verdict.data["problem_scopes"] == 3
    assert verdict.reason == (
        "source prod-aws: aws_iam: latest collection failed (AccessDenied on AssumeRole), last succeeded 2026-11-01 09:00 UTC; "
        "aws_secrets_manager:eu-west-1: never collected; "
        "aws_secrets_manager:us-east-1: stale, last succeeded 2026-10-29 12:00 UTC, 3 days ago; "
        "limit 2 hours (60 min schedule × 2)"
    )
    assert verdict.data["scopes"]["aws_iam"] == {"status": "failed", "last_success_at": NOW.replace(hour=9).isoformat()}


def test_a_failed_latest_attempt_fails_even_after_a_recent_success():
    verdict = SourceCoverage().evaluate(_aws(scope("aws_iam", status="failed", last_success_at=ago(minutes=5))), ctx())
    assert verdict.status == "fail"


def test_succeeded_without_a_success_date_fails():
    assert SourceCoverage().evaluate(_aws(scope("aws_iam", last_success_at=None)), ctx()).status == "fail"


def test_future_success_date_is_not_assessed():
    verdict = SourceCoverage().evaluate(_aws(scope("aws_iam", last_success_at=ahead(1))), ctx())
    assert verdict.status == "not_assessed" and "in the future" in verdict.reason


def test_source_without_scopes_fails():
    assert SourceCoverage().evaluate(source(scopes=()), ctx()).status == "fail"


def test_population_is_enabled_sources():
    rule = SourceCoverage()
    assert rule.applies(_aws()) and not rule.applies(_aws(enabled=False))


def test_long_errors_are_cut_short():
    verdict = SourceCoverage().evaluate(_aws(scope("aws_iam", status="failed", error="x" * 5000)), ctx())
    assert len(verdict.reason) < 600


def test_an_organisations_accounts_it_could_not_collect_are_named_not_assessed():
    facts = {
        "not_assessed": [
            {"id": "111111111111", "name": "staging", "reason": "the account is suspended (closed)"},
            {"id": "999999999999", "name": "", "reason": "listed in Include but not in the organisation: check the id for a typo"},
        ]
    }
    org = source(name="acme", kind="aws_organization", iam_facts=facts, scopes=(scope("aws_organization"),))
    verdict = SourceCoverage().evaluate(org, ctx())
    assert verdict.status == "not_assessed"
    assert "account staging (111111111111) not assessed: the account is suspended (closed)" in verdict.reason
    assert "account ? (999999999999) not assessed: listed in Include" in verdict.reason
    assert verdict.data["accounts_not_assessed"] == ["111111111111", "999999999999"]
    # A failing scope still fails, naming the accounts too.
    broken = source(name="acme", kind="aws_organization", iam_facts=facts, scopes=(scope("aws_organization", status="failed"),))
    failed = SourceCoverage().evaluate(broken, ctx())
    assert failed.status == "fail" and "staging" in failed.reason
