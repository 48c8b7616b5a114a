"""Access reviews in a real browser: a reviewer decides items in bulk with one justification,
and cannot decide an item about their own identity."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.reviews.models import ReviewItem
from tests.factories import CredentialFactory
from tests.support.browser import shot
from tests.support.reviews import inventory, people  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page, live_server, username):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw-for-tests-only")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def test_reviewer_decides_in_bulk_and_not_their_own(page, live_server, people, inventory):
    import datetime as dt

    from apps.reviews import services

    svc = inventory["svc_key"].identity
    now = timezone.now()
    for n in range(3):
        CredentialFactory(
            source=inventory["source"],
            scope="aws_iam",
            external_id=f"AKIABATCH{n}",
            credential_type="access_key",
            name=f"AKIABATCH{n}",
            identity=svc,
            enabled=True,
            fingerprint="f",
            first_seen_at=now,
            created_at=now - dt.timedelta(days=400),
            last_used_at=now - dt.timedelta(days=90),
        )
    draft = services.campaign_create(
        actor=people["grc"],
        name="Q4 <b>keys</b> review",
        scope={"source_ids": [inventory["source"].pk]},
        due_date=now.date() + dt.timedelta(days=14),
        fallback_reviewer=people["fallback"],
    )
    campaign = services.campaign_start(actor=people["grc"], campaign=draft)

    _login(page, live_server, "alice")
    page.click("nav >> text=Reviews")
    expect(page.locator("body")).to_contain_text("Q4 <b>keys</b> review")  # escaped, shown as typed
    page.click("text=Q4 <b>keys</b> review")
    page.wait_for_url(f"**/reviews/{campaign.pk}/")
    items = page.locator("#items")
    expect(items).to_contain_text("AKIASVC")
    expect(items).to_contain_text("AKIABATCH0")
    # her own key went to the fallback; bob's secret is bob's
    expect(items).not_to_contain_text("AKIAALICE")
    expect(items).not_to_contain_text("db-password")
    shot(page, "reviews-reviewer-items")

    # No justification: refused, nothing decided.
    page.click("input[aria-label='Select all']")
    page.select_option("#id_decision", "revoke")
    page.click("text=Decide selected")
    expect(page.locator("body")).to_contain_text("Nothing was changed: Justification")
    assert not ReviewItem.objects.exclude(decision="").exists()

    page.click("input[aria-label='Select all']")
    page.select_option("#id_decision", "revoke")
    page.fill("#id_justification", "Batch job retired in October; keys unused for 90 days.")
    page.click("text=Decide selected")
    expect(page.locator("body")).to_contain_text("4 item(s) decided: revoke.")
    expect(page.locator("#items .status-revoke")).to_have_count(4)
    shot(page, "reviews-reviewer-decided")

    # An item about her own identity, wrongly handed to her: no checkbox is offered, and a
    # forged post is refused by the service.
    own = campaign.items.get(credential=inventory["alice_key"])
    ReviewItem.objects.filter(pk=own.pk).update(reviewer=people["alice"])
    page.reload()
    expect(page.locator(f"#item-{own.pk} input[name=items]")).to_be_disabled()
    expect(page.locator(f"#item-{own.pk}")).to_contain_text("your own identity")
    page.evaluate(f"document.querySelector('#item-{own.pk} input[name=items]').disabled = false")
    page.check(f"#item-{own.pk} input[name=items]")
    page.select_option("#id_decision", "keep")
    page.fill("#id_justification", "I still need it")
    page.click("text=Decide selected")
    expect(page.locator("body")).to_contain_text("about your own identity")
    assert ReviewItem.objects.get(pk=own.pk).decision == ""
    shot(page, "reviews-self-review-refused")

    context = page.context
    context.clear_cookies()
    _login(page, live_server, "grc-lead")
    page.goto(f"{live_server.url}/reviews/{campaign.pk}/")
    expect(page.locator("body")).to_contain_text("Progress per reviewer")
    shot(page, "reviews-grc-lead-campaign")
