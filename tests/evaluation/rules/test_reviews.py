"""credential-not-reviewed: the access reviews' decisions and their verified remediation, judged."""

import pytest

from apps.evaluation.rules.base import ReviewFact
from apps.evaluation.rules.reviews import CredentialNotReviewed
from tests.evaluation.rules.facts import NOW, ago, cred, ctx, identity, key

RULE = CredentialNotReviewed()


def reviewed(days: float, decision: str = "keep", campaign: str = "Q3 privileged keys") -> ReviewFact:
    return ReviewFact(campaign, decision, ago(days))


def test_population_is_privileged_and_non_human_credentials_and_every_secret():
    assert RULE.applies(key(user=identity(kind="human", privileged=True)))
    assert RULE.applies(key(user=identity(kind="service")))
    assert RULE.applies(cred("console_password", identity=identity(kind="service")))
    assert RULE.applies(cred("root_access_key", identity=identity(kind="root")))
    assert RULE.applies(cred("sm_secret")) and RULE.applies(cred("kv_secret"))
    assert not RULE.applies(key(user=identity(kind="human", privileged=False)))
    assert not RULE.applies(key(user=identity(kind="human", privileged=None)))  # unknown privilege: the MFA rules say so
    assert not RULE.applies(cred("sm_secret", deleted_at=ago(1)))  # scheduled for deletion


def test_a_recent_signed_off_decision_passes_with_the_campaign_named():
    verdict = RULE.evaluate(cred("sm_secret", created_at=ago(400), last_review=reviewed(30)), ctx())
    assert verdict.status == "pass"
    assert "reviewed on 2026-10-02 ('keep', review 'Q3 privileged keys'), within the policy's 92 days" in verdict.reason
    assert verdict.data == {"campaign": "Q3 privileged keys", "decision": "keep", "decided_at": ago(30).isoformat(), "interval_days": 92}


def test_an_old_decision_fails_and_the_policy_sets_the_interval():
    c = cred("kv_secret", created_at=ago(800), last_review=reviewed(120))
    verdict = RULE.evaluate(c, ctx())
    assert verdict.status == "fail" and "120 days ago; the policy asks for a review every 92 days" in verdict.reason
    assert RULE.evaluate(c, ctx(review_interval_days=180)).status == "pass"
    assert RULE.evaluate(cred("kv_secret", created_at=ago(800), last_review=reviewed(92)), ctx()).status == "pass"  # boundary: on the day
    assert RULE.evaluate(cred("kv_secret", created_at=ago(800), last_review=reviewed(92.01)), ctx()).status == "fail"


def test_never_reviewed_fails_unless_younger_than_the_interval():
    old = RULE.evaluate(key(user=identity(kind="service"), created_at=ago(200)), ctx())
    assert old.status == "fail" and "never been decided on in a signed-off access review" in old.reason
    assert old.data["reviewed"] is False
    young = RULE.evaluate(key(user=identity(kind="service"), created_at=ago(10)), ctx())
    assert young.status == "pass" and "first review is due by 2027-01-22" in young.reason
    unknown = RULE.evaluate(cred("sm_secret", created_at=None), ctx())
    assert unknown.status == "fail" and "creation date unknown" in unknown.reason  # no date is no excuse


def test_an_overdue_unverified_revocation_fails_even_after_a_recent_review():
    overdue = ReviewFact("Q4 review", "revoke", ago(40), due_date=ago(10).date())
    c = key(
        user=identity(kind="human", privileged=True, name="alice"),
        created_at=ago(300),
        last_review=reviewed(40, "revoke"),
        overdue_remediation=(overdue,),
    )
    verdict = RULE.evaluate(c, ctx())
    assert verdict.status == "fail"
    assert (
        "'revoke' was decided on 2026-09-22 in the review 'Q4 review', due 2026-10-22, and no collection since shows it done"
        in verdict.reason
    )
    assert verdict.data["overdue_remediations"] == 1


@pytest.mark.parametrize("name", ['=HYPERLINK("http://x")', "<script>alert(1)</script>", "x" * 5000])
def test_hostile_campaign_names_are_carried_as_data_and_cut(name):
    verdict = RULE.evaluate(cred("sm_secret", created_at=ago(400), last_review=reviewed(5, campaign=name)), ctx(now=NOW))
    assert verdict.status == "pass" and len(verdict.reason) < 600 and len(verdict.data["campaign"]) <= 200
