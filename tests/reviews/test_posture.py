"""Access reviews feed the posture: 9.2.4.19 (periodic review) is judged from signed-off
campaigns and the remediation later collections verified, through a real evaluation."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from apps.evaluation.facts import load_facts
from apps.evaluation.models import Evaluation, Finding, RequirementStatus, RuleResult
from apps.evaluation.policy import default_policy
from apps.evaluation.selectors import credential_verdicts
from apps.evaluation.services import evaluation_run
from apps.reviews import services
from apps.reviews.models import Remediation

pytestmark = pytest.mark.django_db
RULE = "credential-not-reviewed"


def _items(campaign):
    return {i.credential.external_id: i for i in campaign.items.select_related("credential")}


def _decide(campaign, items, names, decision):
    """Each item decided by its own reviewer (see tests/reviews/test_services.py for who that is)."""
    for name in names:
        services.items_decide(
            actor=items[name].reviewer, campaign=campaign, item_ids=[items[name].pk], decision=decision, justification="ok"
        )


def _failing(evaluation) -> set[str]:
    """Only verdicts that are not passes are stored; the rule's population is its RuleResult."""
    assert RuleResult.objects.get(evaluation=evaluation, rule_id=RULE).population == 4
    return set(Finding.objects.filter(evaluation=evaluation, rule_id=RULE, status="fail").values_list("credential__external_id", flat=True))


def test_decisions_count_once_signed_off_and_flagged_ones_never(catalog, campaign, people, inventory, django_capture_on_commit_callbacks):
    items = _items(campaign)
    # Population of the rule: alice's key (privileged), the service users' keys, the secret.
    # While the campaign is open nothing counts: all four credentials were created 200 days ago.
    before = evaluation_run()
    assert _failing(before) == {"AKIAALICE", "AKIASVC", "db-password", "AKIAORPHAN"}
    assert RequirementStatus.objects.get(evaluation=before, requirement__ref="9.2.4.19").status == "fail"

    _decide(campaign, items, ["AKIAALICE", "db-password", "AKIASVC"], "keep")
    assert all(c.last_review is None for c in load_facts(policy=default_policy(), now=timezone.now()).credentials)

    # After the due date the orphan key is decided by the campaign's rule (kept, flagged): that is no review.
    with time_machine.travel(timezone.now() + dt.timedelta(days=20)):
        with django_capture_on_commit_callbacks(execute=True):
            services.campaign_sign_off(actor=people["grc"], campaign=campaign, comment="Q4 done")
        # Signing off started an evaluation (Celery eager in the tests), which counts the decisions.
        after = Evaluation.objects.filter(trigger=Evaluation.Trigger.REVIEW).get()
        assert after.state == "succeeded"
        assert _failing(after) == {"AKIAORPHAN"}
        orphan = Finding.objects.get(evaluation=after, rule_id=RULE, credential__external_id="AKIAORPHAN")
        assert "never been decided on in a signed-off access review" in orphan.reason
        # The credential page judges live from the same facts (its own two review queries).
        live = {v.rule.id: v for v in credential_verdicts(credential=inventory["alice_key"], now=timezone.now()).verdicts}
        assert live[RULE].status == "pass" and "'keep', review 'Q4 review'" in live[RULE].reason

    # A quarter and more later, the same decisions are too old.
    with time_machine.travel(timezone.now() + dt.timedelta(days=120)):
        stale = evaluation_run(now=timezone.now())
        assert _failing(stale) == {"AKIAALICE", "AKIASVC", "db-password", "AKIAORPHAN"}
        assert (
            "days ago; the policy asks for a review every 92 days"
            in Finding.objects.get(evaluation=stale, rule_id=RULE, credential__external_id="AKIAALICE").reason
        )


def test_a_revocation_past_due_and_unverified_fails_until_a_collection_shows_it(catalog, campaign, people, inventory):
    items = _items(campaign)
    _decide(campaign, items, ["AKIAALICE"], "revoke")
    _decide(campaign, items, ["db-password", "AKIASVC", "AKIAORPHAN"], "keep")
    services.campaign_sign_off(actor=people["grc"], campaign=campaign)
    remediation = Remediation.objects.get(item=items["AKIAALICE"])

    in_time = evaluation_run(now=timezone.now())
    assert _failing(in_time) == set()  # decided recently, the revocation not yet due

    with time_machine.travel(dt.datetime.combine(remediation.due_date, dt.time(12), tzinfo=dt.UTC) + dt.timedelta(days=1)):
        facts = {c.external_id: c for c in load_facts(policy=default_policy(), now=timezone.now()).credentials}
        assert [r.decision for r in facts["AKIAALICE"].overdue_remediation] == ["revoke"]
        overdue = evaluation_run(now=timezone.now())
        finding = Finding.objects.get(evaluation=overdue, rule_id=RULE, credential__external_id="AKIAALICE")
        assert (
            finding.status == "fail"
            and "'revoke' was decided on" in finding.reason
            and "no collection since shows it done" in finding.reason
        )
        assert RequirementStatus.objects.get(evaluation=overdue, requirement__ref="9.2.4.19").status == "fail"

        # A later collection verified it (the end-to-end path is tests/reviews/test_remediation.py).
        Remediation.objects.filter(pk=remediation.pk).update(state=Remediation.State.VERIFIED, verified_at=timezone.now())
        verified = evaluation_run(now=timezone.now())
        assert _failing(verified) == set()


def test_facts_read_reviews_in_a_fixed_number_of_queries(catalog, campaign, people, inventory, django_assert_num_queries):
    items = _items(campaign)
    _decide(campaign, items, list(items), "keep")
    services.campaign_sign_off(actor=people["grc"], campaign=campaign)
    policy = default_policy()
    # 9: the inventory's facts (including the scopes its sources' latest discoveries found) and two for reviews.
    with django_assert_num_queries(9) as captured:
        facts = load_facts(policy=policy, now=timezone.now())
    assert sum("reviews_" in q["sql"] for q in captured.captured_queries) == 2
    assert {c.external_id for c in facts.credentials if c.last_review} == {"AKIAALICE", "AKIASVC", "db-password", "AKIAORPHAN"}
