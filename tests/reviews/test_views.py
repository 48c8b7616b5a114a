"""The review pages through the test client: narrowing, bulk decisions, refusals, query counts."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.inventory.models import Credential
from apps.reviews import services
from apps.reviews.models import Campaign, ReviewItem
from tests.support.clients import login

pytestmark = pytest.mark.django_db


def test_reviewer_sees_only_their_items_and_decides_in_bulk(client, campaign, people):
    login(client, people["fallback"])
    page = client.get(reverse("reviews:detail", args=[campaign.pk]))
    assert page.status_code == 200
    body = page.content.decode()
    assert "AKIAORPHAN" in body and "AKIASVC" not in body and "Progress per reviewer" not in body
    mine = list(campaign.items.filter(reviewer=people["fallback"]).values_list("pk", flat=True))
    response = client.post(
        reverse("reviews:decide", args=[campaign.pk]),
        {"items": mine, "decision": "rotate", "justification": "<script>alert(1)</script> old"},
        follow=True,
    )
    assert "2 item(s) decided: rotate." in response.content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; old" in response.content.decode()
    assert ReviewItem.objects.filter(pk__in=mine, decision="rotate").count() == 2


def test_deciding_someone_elses_item_is_refused_and_recorded(client, campaign, people):
    login(client, people["alice"])
    bobs = campaign.items.get(reviewer=people["bob"]).pk
    response = client.post(
        reverse("reviews:decide", args=[campaign.pk]), {"items": [bobs], "decision": "keep", "justification": "x"}, follow=True
    )
    assert "Refused: 1 of the 1 selected items are assigned to another reviewer; nothing was decided." in response.content.decode()
    assert AuditEvent.objects.filter(event_type="access.denied", actor=people["alice"]).exists()
    assert not ReviewItem.objects.exclude(decision="").exists()


OFFSITE = ["https://evil.example/phish", "//evil.example/x", "/\\evil.example/x", "javascript:alert(1)", "http://testserver.evil.example/"]


@pytest.mark.parametrize("target", OFFSITE)
@pytest.mark.parametrize("valid", [True, False], ids=["decided", "form-error"])
def test_a_posted_next_off_this_site_is_ignored(client, campaign, people, target, valid):
    """Issue #19 item 10: the review views redirected to any posted ``next``."""
    login(client, people["fallback"])
    item = campaign.items.filter(reviewer=people["fallback"]).first()
    data = {"items": [item.pk], "decision": "keep" if valid else "nonsense", "justification": "x", "next": target}
    response = client.post(reverse("reviews:decide", args=[campaign.pk]), data)
    assert response.status_code == 302 and response["Location"] == reverse("reviews:detail", args=[campaign.pk])


def test_a_posted_next_on_this_site_is_honoured(client, campaign, people):
    login(client, people["fallback"])
    item = campaign.items.filter(reviewer=people["fallback"]).first()
    back = reverse("reviews:detail", args=[campaign.pk]) + "?status=undecided"
    response = client.post(
        reverse("reviews:decide", args=[campaign.pk]), {"items": [item.pk], "decision": "keep", "justification": "x", "next": back}
    )
    assert response.status_code == 302 and response["Location"] == back


def test_decide_after_sign_off_is_refused_with_a_message(client, campaign, people):
    import time_machine

    with time_machine.travel(timezone.now() + dt.timedelta(days=20)):
        services.campaign_sign_off(actor=people["grc"], campaign=campaign)
    login(client, people["fallback"])
    item = campaign.items.filter(reviewer=people["fallback"]).first()
    response = client.post(
        reverse("reviews:decide", args=[campaign.pk]), {"items": [item.pk], "decision": "keep", "justification": "x"}, follow=True
    )
    # The campaign page no longer offers decisions; a forged post is told why.
    assert "its decisions are locked" in response.content.decode()


def test_grc_lead_pages_and_auditor_sharing(client, campaign, people):
    login(client, people["grc"])
    page = client.get(reverse("reviews:detail", args=[campaign.pk])).content.decode()
    assert "Progress per reviewer" in page and campaign.population_hash in page
    assert client.get(reverse("reviews:list")).status_code == 200
    assert client.get(reverse("reviews:create")).status_code == 200
    # Not shareable while in review.
    assert client.get(reverse("reviews:share", args=[campaign.pk])).status_code == 302
    client.logout()
    login(client, people["auditor"])
    assert client.get(reverse("reviews:detail", args=[campaign.pk])).status_code == 404
    import time_machine

    with time_machine.travel(timezone.now() + dt.timedelta(days=20)):
        services.campaign_sign_off(actor=people["grc"], campaign=campaign)
    from django.db import transaction

    from apps.accounts.sharing import object_share

    with transaction.atomic():
        object_share(actor=people["grc"], obj=campaign, grantee=people["auditor"], permissions=["view_campaign"])
    page = client.get(reverse("reviews:detail", args=[campaign.pk]))
    assert page.status_code == 200 and "Signed off" in page.content.decode()


def test_create_and_start_through_the_form(client, people, inventory, django_capture_on_commit_callbacks):
    login(client, people["grc"])
    due = (timezone.now().date() + dt.timedelta(days=10)).isoformat()
    response = client.post(
        reverse("reviews:create"),
        {
            "name": "Secrets",
            "credential_types": ["sm_secret"],
            "fallback_reviewer": people["fallback"].pk,
            "justification_rule": "all",
            "undecided_rule": "keep_flag",
            "due_date": due,
        },
    )
    assert response.status_code == 302
    campaign_id = int(response["Location"].rstrip("/").split("/")[-1])
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = client.post(reverse("reviews:start", args=[campaign_id]), follow=True)
    # Answered before any worker ran: the campaign is starting, the page polls, the button is off.
    page = response.content.decode()
    assert "Start requested" in page and "a worker is freezing the population" in page and 'hx-trigger="every 2s"' in page
    assert "Starting…" in page and Campaign.objects.get(pk=campaign_id).state == "starting" and len(queued) == 1
    queued[0]()  # the worker (eager Celery) freezes it
    campaign = Campaign.objects.get(pk=campaign_id)
    assert campaign.state == "active" and campaign.population_count == 1 and campaign.start_error == ""
    state = client.get(reverse("reviews:state", args=[campaign_id]), HTTP_HX_REQUEST="true")
    assert state["HX-Refresh"] == "true"  # no longer starting: the page reloads itself
    assert "1 items frozen" in client.get(reverse("reviews:detail", args=[campaign_id])).content.decode()
    empty = client.post(
        reverse("reviews:create"),
        {
            "name": "Nothing",
            "tag_key": "team",
            "tag_value": "none",
            "fallback_reviewer": people["fallback"].pk,
            "justification_rule": "all",
            "undecided_rule": "keep_flag",
            "due_date": due,
        },
    )
    assert empty.status_code == 200 and "no present credential matches it" in empty.content.decode()


def test_campaign_page_queries_do_not_grow_with_items(client, people, inventory, django_assert_max_num_queries):
    now = timezone.now()
    Credential.objects.bulk_create(
        [
            Credential(
                source=inventory["source"],
                scope="aws_iam",
                external_id=f"AKIA{n:06d}",
                credential_type="access_key",
                name=f"AKIA{n:06d}",
                enabled=True,
                fingerprint="f",
                first_seen_at=now,
                created_at=now,
            )
            for n in range(400)
        ]
    )
    draft = services.campaign_create(
        actor=people["grc"], name="big", scope={}, due_date=now.date() + dt.timedelta(days=5), fallback_reviewer=people["fallback"]
    )
    campaign = services.campaign_start(actor=people["grc"], campaign=draft)
    login(client, people["grc"])
    url = reverse("reviews:detail", args=[campaign.pk])
    client.get(url)
    with django_assert_max_num_queries(25):
        assert client.get(url + "?page=2").status_code == 200
    login(client, people["fallback"])
    ids = list(campaign.items.filter(reviewer=people["fallback"]).values_list("pk", flat=True)[:300])
    with django_assert_max_num_queries(25):
        client.post(reverse("reviews:decide", args=[campaign.pk]), {"items": ids, "decision": "revoke", "justification": "cleanup"})
    assert ReviewItem.objects.filter(decision="revoke").count() == 300


def test_campaign_pages_make_the_same_queries_at_any_size(client, people, inventory, django_assert_max_num_queries):
    """The GRC lead's page 1 and last page (progress, decisions, remediation and its pager) and
    a reviewer's page make the same queries for a campaign of 7 items and one of 307 items,
    a third of each reviewer's items decided (revoke and rotate open remediation)."""
    now = timezone.now()

    def campaign_of(extra: int, name: str):
        start = Credential.objects.count()
        Credential.objects.bulk_create(
            [
                Credential(
                    source=inventory["source"],
                    scope="aws_iam",
                    external_id=f"AKIA{name}{n:06d}",
                    credential_type="access_key",
                    name=f"AKIA{name}{n:06d}",
                    enabled=True,
                    owner=("alice@example.test", "bob@example.test", "")[n % 3],
                    fingerprint="f",
                    first_seen_at=now,
                    created_at=now,
                )
                for n in range(start, start + extra)
            ]
        )
        draft = services.campaign_create(
            actor=people["grc"], name=name, scope={}, due_date=now.date() + dt.timedelta(days=5), fallback_reviewer=people["fallback"]
        )
        campaign = services.campaign_start(actor=people["grc"], campaign=draft)
        for reviewer in (people["alice"], people["bob"], people["fallback"]):
            mine = list(campaign.items.filter(reviewer=reviewer).order_by("pk").values_list("pk", flat=True))
            third = mine[: max(1, len(mine) // 3)]
            for decision, ids in (("revoke", third[::2]), ("rotate", third[1::2])):
                if ids:
                    services.items_decide(actor=reviewer, campaign=campaign, item_ids=ids, decision=decision, justification="gone")
        return campaign

    def counts(campaign) -> dict:
        url = reverse("reviews:detail", args=[campaign.pk])
        last = (campaign.population_count + 99) // 100
        found = {}
        for who, person, query in (
            ("grc page 1", "grc", ""),
            ("grc last page", "grc", f"?page={last}"),
            ("grc remediation page 2", "grc", "?remediation_page=2"),
            ("reviewer", "fallback", ""),
        ):
            login(client, people[person])
            client.get(url + query)  # warm the per-process caches
            with django_assert_max_num_queries(25) as queries:
                response = client.get(url + query)
            assert response.status_code == 200, who
            found[who] = len(queries.captured_queries)
        return found

    small = campaign_of(3, "small")
    big = campaign_of(300, "big")
    assert small.population_count == 7 and big.population_count == 307
    assert counts(small) == counts(big)
    login(client, people["grc"])
    page = client.get(reverse("reviews:detail", args=[big.pk]) + "?remediation_page=2")
    remediation = page.context["remediation"]
    assert remediation.number == 2 and remediation.paginator.count == sum(page.context["remediation_counts"].values()) > 25
    assert 'href="?page=&amp;remediation_page=1#remediation"' not in page.content.decode()  # empty filters are left out
    assert "remediation_page=1#remediation" in page.content.decode()


def test_a_start_the_worker_refuses_goes_back_to_draft_with_why(client, people, inventory, django_capture_on_commit_callbacks):
    campaign = services.campaign_create(
        actor=people["grc"],
        name="Soon empty",
        due_date=timezone.now().date() + dt.timedelta(days=7),
        fallback_reviewer=people["fallback"],
        scope={"credential_types": ["sm_secret"]},
    )
    client.force_login(people["grc"])
    with django_capture_on_commit_callbacks(execute=False) as queued:
        client.post(reverse("reviews:start", args=[campaign.pk]))
    Credential.objects.filter(credential_type="sm_secret").update(disappeared_at=timezone.now())  # gone before a worker runs it
    queued[0]()
    campaign.refresh_from_db()
    assert campaign.state == "draft" and "no present credential matches it" in campaign.start_error
    assert AuditEvent.objects.filter(event_type="campaign.start_failed", target_id=str(campaign.pk)).exists()
    page = client.get(reverse("reviews:detail", args=[campaign.pk])).content.decode()
    assert "The last start changed nothing" in page and "Start: freeze the population" in page
