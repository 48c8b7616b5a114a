"""Campaign workflow against PostgreSQL: freezing and hashing, assignment, decisions, sign-off."""

import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from apps.audit.chain import digest_of
from apps.audit.models import AuditEvent
from apps.core.errors import IllegalTransition, PermissionRefused, ValidationFailed
from apps.reviews import services
from apps.reviews.models import Campaign, Remediation, ReviewAssignment, ReviewItem, ReviewReminder
from apps.reviews.population import population_hash_of

pytestmark = pytest.mark.django_db


def _items(campaign):
    return {i.credential.name: i for i in campaign.items.select_related("credential", "reviewer")}


def test_start_freezes_the_population_with_a_reproducible_hash(campaign, inventory):
    assert campaign.state == Campaign.State.ACTIVE and campaign.population_count == 4
    assert len(campaign.population_hash) == 64
    assert population_hash_of(campaign) == campaign.population_hash
    item = _items(campaign)["AKIAALICE"]
    assert item.facts["credential"]["key_age_days"] == 200 and item.facts["identity"]["privileged"] is True
    assert item.facts["identity"]["mfa_active"] is True and "rotation_status" in item.facts["credential"]
    # Later changes to the inventory do not touch the frozen items or the hash.
    inventory["alice_key"].enabled = False
    inventory["alice_key"].save()
    campaign.refresh_from_db()
    assert population_hash_of(campaign) == campaign.population_hash
    assert _items(campaign)["AKIAALICE"].facts["credential"]["enabled"] is True
    # A tampered item no longer matches.
    ReviewItem.objects.filter(pk=item.pk).update(subject="something else")
    assert population_hash_of(campaign) != campaign.population_hash
    assert AuditEvent.objects.filter(event_type="campaign.started", changes__population_hash=campaign.population_hash).exists()


def test_reviewers_by_rule_and_self_review_goes_to_the_fallback(campaign, people):
    items = _items(campaign)
    # alice's own key is owned by alice: she would review her own identity -> fallback, recorded.
    assert items["AKIAALICE"].reviewer == people["fallback"] and items["AKIAALICE"].assigned_by_rule == "self_review"
    assert ReviewAssignment.objects.get(item=items["AKIAALICE"]).reason == "self_review"
    assert items["AKIASVC"].reviewer == people["alice"] and items["AKIASVC"].assigned_by_rule == "identity_owner"
    assert items["db-password"].reviewer == people["bob"] and items["db-password"].assigned_by_rule == "credential_owner"
    assert items["AKIAORPHAN"].reviewer == people["fallback"] and items["AKIAORPHAN"].assigned_by_rule == "fallback"
    assert people["alice"].has_perm("reviews.review_campaign", campaign)


def test_empty_scope_and_past_due_are_refused(people, inventory):
    with pytest.raises(ValidationFailed, match="no present credential"):
        services.campaign_create(
            actor=people["grc"],
            name="x",
            scope={"tag": {"key": "team", "value": "nobody"}},
            due_date=timezone.now().date() + dt.timedelta(days=3),
            fallback_reviewer=people["fallback"],
        )
    with pytest.raises(ValidationFailed, match="future date"):
        services.campaign_create(
            actor=people["grc"], name="x", scope={}, due_date=timezone.now().date(), fallback_reviewer=people["fallback"]
        )
    with pytest.raises(PermissionRefused):
        services.campaign_create(
            actor=people["alice"],
            name="x",
            scope={},
            due_date=timezone.now().date() + dt.timedelta(days=3),
            fallback_reviewer=people["fallback"],
        )
    assert not Campaign.objects.exists()


def test_scope_filters(people, inventory):
    draft = services.campaign_create(
        actor=people["grc"],
        name="privileged",
        scope={"privileged_only": True},
        due_date=timezone.now().date() + dt.timedelta(days=3),
        fallback_reviewer=people["fallback"],
    )
    assert services.campaign_start(actor=people["grc"], campaign=draft).population_count == 1
    draft = services.campaign_create(
        actor=people["grc"],
        name="non-human",
        scope={"non_human_only": True, "credential_types": ["access_key"]},
        due_date=timezone.now().date() + dt.timedelta(days=3),
        fallback_reviewer=people["fallback"],
    )
    assert set(services.campaign_start(actor=people["grc"], campaign=draft).items.values_list("credential__name", flat=True)) == {
        "AKIASVC",
        "AKIAORPHAN",
    }


def test_bulk_decide_one_justification_and_one_audit_insert(campaign, people, django_assert_max_num_queries):
    mine = list(campaign.items.filter(reviewer=people["fallback"]).values_list("pk", flat=True))
    head_before = AuditEvent.objects.order_by("-seq").first()
    with django_assert_max_num_queries(14):
        assert (
            services.items_decide(
                actor=people["fallback"], campaign=campaign, item_ids=mine, decision="revoke", justification="no longer needed"
            )
            == 2
        )
    decided = ReviewItem.objects.filter(pk__in=mine)
    assert set(decided.values_list("decision", flat=True)) == {"revoke"} and all(i.decided_by == people["fallback"] for i in decided)
    assert Remediation.objects.filter(item__in=mine, state="open").count() == 2
    rows = list(AuditEvent.objects.filter(seq__gt=head_before.seq).order_by("seq"))
    assert [r.event_type for r in rows] == ["review.decided", "review.decided"]
    assert rows[0].prev_hash == head_before.hash and rows[1].prev_hash == rows[0].hash
    assert all(digest_of(r) == r.hash for r in rows)


def test_refusals_change_nothing(campaign, people):
    items = _items(campaign)
    mixed = [items["AKIASVC"].pk, items["db-password"].pk]
    with pytest.raises(PermissionRefused, match="assigned to another reviewer; nothing was decided"):
        services.items_decide(actor=people["alice"], campaign=campaign, item_ids=mixed, decision="keep", justification="fine")
    with pytest.raises(ValidationFailed, match="Justification"):
        services.items_decide(actor=people["alice"], campaign=campaign, item_ids=[items["AKIASVC"].pk], decision="keep", justification=" ")
    # Self-review is refused in the service even if the item is (wrongly) assigned to her.
    ReviewItem.objects.filter(pk=items["AKIAALICE"].pk).update(reviewer=people["alice"])
    with pytest.raises(PermissionRefused, match="your own identity"):
        services.items_decide(
            actor=people["alice"], campaign=campaign, item_ids=[items["AKIAALICE"].pk], decision="keep", justification="me"
        )
    assert not ReviewItem.objects.exclude(decision="").exists()
    services.items_decide(
        actor=people["alice"], campaign=campaign, item_ids=[items["AKIASVC"].pk], decision="keep", justification="batch job"
    )
    with pytest.raises(IllegalTransition, match="already decided"):
        services.items_decide(
            actor=people["alice"], campaign=campaign, item_ids=[items["AKIASVC"].pk], decision="revoke", justification="x"
        )


def test_justification_for_changes_only(people, inventory):
    draft = services.campaign_create(
        actor=people["grc"],
        name="light",
        scope={},
        justification_rule="changes",
        due_date=timezone.now().date() + dt.timedelta(days=3),
        fallback_reviewer=people["fallback"],
    )
    campaign = services.campaign_start(actor=people["grc"], campaign=draft)
    item = campaign.items.get(credential=inventory["svc_key"])
    with pytest.raises(ValidationFailed, match="required to rotate"):
        services.items_decide(actor=people["alice"], campaign=campaign, item_ids=[item.pk], decision="rotate", justification="")
    services.items_decide(actor=people["alice"], campaign=campaign, item_ids=[item.pk], decision="keep", justification="")


def test_sign_off_locks_and_applies_the_undecided_rule_after_the_deadline(campaign, people):
    items = _items(campaign)
    services.items_decide(
        actor=people["bob"], campaign=campaign, item_ids=[items["db-password"].pk], decision="rotate", justification="shared"
    )
    with pytest.raises(IllegalTransition, match="still undecided"):
        services.campaign_sign_off(actor=people["grc"], campaign=campaign)
    with time_machine.travel(timezone.now() + dt.timedelta(days=20)):
        with pytest.raises(PermissionRefused):
            services.campaign_sign_off(actor=people["alice"], campaign=campaign)
        services.campaign_sign_off(actor=people["grc"], campaign=campaign, comment="Q4 done")
    campaign.refresh_from_db()
    assert campaign.state == "signed_off" and campaign.signed_off_by == people["grc"]
    flagged = campaign.items.filter(flagged=True)
    assert flagged.count() == 3 and set(flagged.values_list("decision", flat=True)) == {"keep"}
    with pytest.raises(IllegalTransition, match="signed off"):
        services.items_decide(
            actor=people["alice"], campaign=campaign, item_ids=[items["AKIASVC"].pk], decision="keep", justification="late"
        )


def test_undecided_rule_revoke_creates_remediation(people, inventory):
    draft = services.campaign_create(
        actor=people["grc"],
        name="strict",
        scope={},
        undecided_rule="revoke",
        due_date=timezone.now().date() + dt.timedelta(days=3),
        fallback_reviewer=people["fallback"],
    )
    campaign = services.campaign_start(actor=people["grc"], campaign=draft)
    with time_machine.travel(timezone.now() + dt.timedelta(days=5)):
        services.campaign_sign_off(actor=people["grc"], campaign=campaign)
    assert Remediation.objects.filter(item__campaign=campaign, action="revoke", owner=people["fallback"]).count() == 4


def test_reassign_delegate_and_deactivation(campaign, people):
    items = _items(campaign)
    with pytest.raises(ValidationFailed, match="their own identity"):
        services.items_reassign(
            actor=people["grc"], campaign=campaign, item_ids=[items["AKIAALICE"].pk], to_reviewer=people["alice"], note="x"
        )
    services.items_delegate(
        actor=people["alice"], campaign=campaign, item_ids=[items["AKIASVC"].pk], to_reviewer=people["bob"], note="bob runs batch"
    )
    assert ReviewItem.objects.get(pk=items["AKIASVC"].pk).reviewer == people["bob"]
    # bob leaves: his undecided items go to the fallback at once.
    people["bob"].is_active = False
    people["bob"].save()
    moved = ReviewItem.objects.filter(pk__in=[items["AKIASVC"].pk, items["db-password"].pk])
    assert set(moved.values_list("reviewer__username", flat=True)) == {"fallback"}
    assert list(ReviewAssignment.objects.filter(item=items["AKIASVC"]).values_list("reason", flat=True)) == ["delegated", "deactivated"]
    assert AuditEvent.objects.filter(event_type="review.reassigned", changes__reason="deactivated").count() == 2


@pytest.mark.parametrize("who", ["auditor", "grc", "inactive"])
def test_items_go_only_to_active_reviewers(campaign, people, who):
    """Issue #19 item 7: an auditor (or anyone without the reviewer role, or a deactivated
    reviewer) receiving items would be granted review_campaign and could decide them."""
    items = _items(campaign)
    if who == "inactive":
        type(people["bob"]).objects.filter(pk=people["bob"].pk).update(is_active=False)  # no signal: still holds items
        people["bob"].refresh_from_db()
    recipient = people["bob" if who == "inactive" else who]
    with pytest.raises(ValidationFailed, match="reviewer role|deactivated"):
        services.items_delegate(actor=people["alice"], campaign=campaign, item_ids=[items["AKIASVC"].pk], to_reviewer=recipient, note="x")
    with pytest.raises(ValidationFailed, match="reviewer role|deactivated"):
        services.items_reassign(actor=people["grc"], campaign=campaign, item_ids=[items["AKIASVC"].pk], to_reviewer=recipient, note="x")
    assert ReviewItem.objects.get(pk=items["AKIASVC"].pk).reviewer == people["alice"]
    assert not recipient.has_perm("reviews.review_campaign", campaign)


def test_reminders_before_due_and_daily_when_overdue(campaign, people, django_capture_on_commit_callbacks):
    start = timezone.now()
    with time_machine.travel(start + dt.timedelta(days=1)):  # 13 days left: no mark reached
        assert services.reviews_send_reminders() == 0
    # The e-mails go out after commit (apps.notifications; tests/notifications for their content).
    with time_machine.travel(start + dt.timedelta(days=8)), django_capture_on_commit_callbacks(execute=True):
        # 6 days left: the 7-day mark, once
        assert services.reviews_send_reminders() == 3
        assert services.reviews_send_reminders() == 0
    assert {m.to[0] for m in mail.outbox} == {"alice@example.test", "bob@example.test", "security@example.test"}
    with time_machine.travel(start + dt.timedelta(days=16)):  # overdue: daily
        assert services.reviews_send_reminders() == 3
        assert services.reviews_send_reminders() == 0
    with time_machine.travel(start + dt.timedelta(days=17)):
        # A reviewer deactivated without the signal (bulk update) is caught at reminder time.
        type(people["bob"]).objects.filter(pk=people["bob"].pk).update(is_active=False)
        assert services.reviews_send_reminders() == 2
    assert campaign.items.filter(reviewer=people["bob"]).count() == 0
    assert ReviewReminder.objects.filter(reviewer=people["alice"]).count() == 3
    assert "was due" in ReviewReminder.objects.filter(reviewer=people["alice"]).first().message


def test_template_schedules_and_launches(people, inventory):
    from django_celery_beat.models import PeriodicTask

    template = services.template_save(
        actor=people["grc"],
        name="Quarterly privileged",
        scope={},
        fallback_reviewer=people["fallback"],
        recurrence="quarterly",
        duration_days=21,
    )
    task = PeriodicTask.objects.get(pk=template.periodic_task_id)
    assert task.task == "reviews.launch_template" and task.crontab.month_of_year == "1,4,7,10"
    campaign = services.template_launch(template=template)
    assert campaign.state == "active" and campaign.template == template and campaign.population_count == 4
