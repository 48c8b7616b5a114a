"""Deciding with care: a row's own buttons, a bulk bar with no decision chosen, a confirmation
before keeping items that fail rules, and the page saying that decisions are final."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.reviews.models import ReviewItem
from apps.reviews.services import campaign_create, campaign_start
from tests.factories import EvaluationFactory, FindingFactory
from tests.support.clients import login

pytestmark = pytest.mark.django_db


@pytest.fixture
def failing_campaign(people, inventory):
    """A campaign started after an evaluation in which AKIAORPHAN failed two rules and AKIAALICE one."""
    evaluation = EvaluationFactory(state="succeeded", finished_at=timezone.now())
    for rule in ("iam-key-rotation-age", "iam-key-unused"):
        FindingFactory(evaluation=evaluation, credential=inventory["orphan"], rule_id=rule)
    FindingFactory(evaluation=evaluation, credential=inventory["alice_key"], rule_id="iam-key-rotation-age")
    draft = campaign_create(
        actor=people["grc"],
        name="Careful",
        scope={"source_ids": [inventory["source"].pk]},
        due_date=timezone.now().date() + dt.timedelta(days=14),
        fallback_reviewer=people["fallback"],
    )
    return campaign_start(actor=people["grc"], campaign=draft)


def _mine(campaign, people):
    return {i.subject.split()[0] if " " in i.subject else i.subject: i for i in campaign.items.filter(reviewer=people["fallback"])}


def test_the_page_says_decisions_are_final_and_chooses_no_decision(client, failing_campaign, people):
    login(client, people["fallback"])
    body = client.get(reverse("reviews:detail", args=[failing_campaign.pk])).content.decode()
    assert "Each decision is final once you record it" in body
    assert '<option value="" selected>Choose a decision…</option>' in body
    assert 'name="row" value="' in body  # per-row buttons


def test_a_bulk_post_without_a_decision_decides_nothing(client, failing_campaign, people):
    login(client, people["fallback"])
    mine = list(failing_campaign.items.filter(reviewer=people["fallback"]).values_list("pk", flat=True))
    response = client.post(reverse("reviews:decide", args=[failing_campaign.pk]), {"items": mine, "decision": ""}, follow=True)
    assert "Nothing was decided: choose a decision (keep, revoke or rotate)." in response.content.decode()
    assert not ReviewItem.objects.exclude(decision="").exists()


def test_keeping_items_that_fail_rules_asks_first_and_lists_the_rules(client, failing_campaign, people):
    login(client, people["fallback"])
    mine = list(failing_campaign.items.filter(reviewer=people["fallback"]).values_list("pk", flat=True))
    assert len(mine) == 2
    url = reverse("reviews:decide", args=[failing_campaign.pk])
    response = client.post(url, {"items": mine, "decision": "keep", "justification": "needed"})
    body = response.content.decode()
    assert response.status_code == 200 and "Keep access that fails rules?" in body
    assert "2 of the 2 items you chose to keep fail rules" in body
    assert "<code>iam-key-rotation-age</code>: 2 items" in body and "<code>iam-key-unused</code>: 1 item<" in body
    assert "cannot be changed afterwards" in body
    assert not ReviewItem.objects.exclude(decision="").exists()  # nothing decided yet

    response = client.post(url, {"items": mine, "decision": "keep", "justification": "needed", "confirm_keep": "on"}, follow=True)
    assert "2 item(s) decided: keep." in response.content.decode()
    assert ReviewItem.objects.filter(pk__in=mine, decision="keep", justification="needed").count() == 2


def test_a_rows_own_button_decides_that_item_alone_with_its_justification(client, failing_campaign, people):
    login(client, people["fallback"])
    mine = list(failing_campaign.items.filter(reviewer=people["fallback"]).order_by("pk"))
    url = reverse("reviews:decide", args=[failing_campaign.pk])
    first, second = mine
    # Another row ticked and a bulk decision chosen: the row's button ignores both.
    response = client.post(
        url,
        {"items": [second.pk], "decision": "keep", "row": f"{first.pk}:revoke", f"justification_{first.pk}": "left the company"},
        follow=True,
    )
    assert "1 item(s) decided: revoke." in response.content.decode()
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.decision, first.justification) == ("revoke", "left the company") and second.decision == ""
    # Deciding it again is refused: decisions are final.
    response = client.post(url, {"row": f"{first.pk}:keep", f"justification_{first.pk}": "x", "confirm_keep": "on"}, follow=True)
    assert "already decided (a decision is final)" in response.content.decode()


def test_a_row_keep_of_a_failing_item_asks_too_and_a_passing_one_does_not(client, people, inventory):
    draft = campaign_create(
        actor=people["grc"],
        name="Clean",
        scope={"source_ids": [inventory["source"].pk]},
        due_date=timezone.now().date() + dt.timedelta(days=14),
        fallback_reviewer=people["fallback"],
    )
    campaign = campaign_start(actor=people["grc"], campaign=draft)  # no evaluation: nothing fails
    login(client, people["fallback"])
    item = campaign.items.filter(reviewer=people["fallback"]).first()
    response = client.post(
        reverse("reviews:decide", args=[campaign.pk]), {"row": f"{item.pk}:keep", f"justification_{item.pk}": "in use"}, follow=True
    )
    assert "1 item(s) decided: keep." in response.content.decode()


def test_the_confirmation_goes_back_only_within_the_site(client, failing_campaign, people):
    login(client, people["fallback"])
    mine = list(failing_campaign.items.filter(reviewer=people["fallback"]).values_list("pk", flat=True))
    body = client.post(
        reverse("reviews:decide", args=[failing_campaign.pk]), {"items": mine, "decision": "keep", "next": "javascript:alert(1)"}
    ).content.decode()
    assert "javascript:" not in body and reverse("reviews:detail", args=[failing_campaign.pk]) in body
