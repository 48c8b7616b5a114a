"""Two flows of issue 18 in a real browser: a reviewer decides with care (no decision chosen
for her, a confirmation before keeping items that fail rules, a row's own buttons, finality
said before the click), and a GRC lead requests an exception from a failing finding (rules
and scope filled in by name, a live count, the risk starting at the rule's severity, every
error at once)."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.exceptions_register.models import ExceptionRequest
from apps.reviews.models import ReviewItem
from tests.factories import EvaluationFactory, FindingFactory
from tests.support.browser import shot
from tests.support.reviews import inventory, people  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page, live_server, username):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw-for-tests-only")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


@pytest.fixture
def evaluated(inventory):
    """The latest evaluation: AKIAORPHAN fails two rules, AKIAALICE one (both the fallback's to review)."""
    evaluation = EvaluationFactory(state="succeeded", finished_at=timezone.now())
    for rule in ("iam-key-rotation-age", "iam-key-unused"):
        FindingFactory(
            evaluation=evaluation,
            credential=inventory["orphan"],
            identity=inventory["orphan"].identity,
            rule_id=rule,
            severity="medium",
            due_on=timezone.now().date() - dt.timedelta(days=2),
        )
    FindingFactory(
        evaluation=evaluation,
        credential=inventory["alice_key"],
        identity=inventory["alice_key"].identity,
        rule_id="iam-key-rotation-age",
        severity="medium",
        owner="alice@example.test",
        due_on=timezone.now().date() + dt.timedelta(days=20),
    )
    return evaluation


def test_a_reviewer_decides_with_care(page, live_server, people, inventory, evaluated):
    from apps.reviews import services

    draft = services.campaign_create(
        actor=people["grc"],
        name="Careful review",
        scope={"source_ids": [inventory["source"].pk]},
        due_date=timezone.now().date() + dt.timedelta(days=14),
        fallback_reviewer=people["fallback"],
    )
    campaign = services.campaign_start(actor=people["grc"], campaign=draft)
    mine = {i.subject: i for i in campaign.items.filter(reviewer=people["fallback"])}
    orphan = next(i for s, i in mine.items() if "AKIAORPHAN" in s)

    _login(page, live_server, "fallback")
    page.goto(f"{live_server.url}/reviews/{campaign.pk}/")
    expect(page.locator("#finality")).to_contain_text("Each decision is final once you record it")
    expect(page.locator("#id_decision")).to_have_value("")  # nothing chosen for her
    shot(page, "careful-decide-1-page")

    # Bulk without a decision: the browser asks for one; nothing is posted.
    page.click("input[aria-label='Select all']")
    page.click("text=Decide selected")
    assert not ReviewItem.objects.exclude(decision="").exists()

    # Bulk keep of two items that fail rules: a confirmation lists them by rule.
    page.select_option("#id_decision", "keep")
    page.fill("#id_justification", "Still used by the nightly batch.")
    page.click("text=Decide selected")
    confirm = page.locator("#confirm-keep")
    expect(confirm).to_contain_text("2 of the 2 items you chose to keep fail rules")
    expect(confirm).to_contain_text("iam-key-rotation-age: 2 items")
    expect(confirm).to_contain_text("iam-key-unused: 1 item")
    shot(page, "careful-decide-2-confirm")
    page.click("text=Go back, nothing is decided")
    page.wait_for_url(f"**/reviews/{campaign.pk}/**")
    assert not ReviewItem.objects.exclude(decision="").exists()

    # A row's own button: revoke the orphan key with the row's reason.
    row = page.locator(f"#item-{orphan.pk}")
    row.locator(f"input[name=justification_{orphan.pk}]").fill("No owner; unused.")
    row.locator("button", has_text="Revoke").click()
    expect(page.locator("body")).to_contain_text("1 item(s) decided: revoke.")
    orphan.refresh_from_db()
    assert (orphan.decision, orphan.justification) == ("revoke", "No owner; unused.")

    # The other, kept after confirming.
    page.click("input[aria-label='Select all']")
    page.select_option("#id_decision", "keep")
    page.fill("#id_justification", "Alice's key, rotation booked.")
    page.click("text=Decide selected")
    expect(page.locator("#confirm-keep")).to_contain_text("1 of the 1 item you chose to keep fails rules")
    page.click("text=Keep all 1")
    expect(page.locator("body")).to_contain_text("1 item(s) decided: keep.")
    shot(page, "careful-decide-3-done")
    assert sorted(ReviewItem.objects.filter(campaign=campaign, reviewer=people["fallback"]).values_list("decision", flat=True)) == [
        "keep",
        "revoke",
    ]


def test_an_exception_is_requested_from_a_failing_finding(page, live_server, people, inventory, evaluated):
    orphan = inventory["orphan"]
    _login(page, live_server, "grc-lead")
    # The queue grouped by owner: the unowned key's two findings are overdue.
    page.goto(f"{live_server.url}/posture/findings/?group=owner")
    groups = page.locator("table.finding-groups")
    expect(groups.locator("tr", has_text="alice@example.test")).to_contain_text("1")
    expect(groups.locator("tr", has_text="(none)")).to_contain_text("2")
    shot(page, "findings-queue-by-owner")
    page.goto(f"{live_server.url}/posture/findings/?rule=iam-key-unused")
    expect(page.locator("#rows")).to_contain_text("overdue")
    row = page.locator("tr", has_text="iam-key-unused")
    row.locator("a.request-exception").first.click()
    page.wait_for_url("**/exceptions/new/**")

    # Filled in by name, the risk at the rule's severity, the live count.
    expect(page.locator("#picker-rule .chosen")).to_contain_text("have been used recently")
    expect(page.locator("#picker-credential .chosen")).to_contain_text("AKIAORPHAN")
    expect(page.locator("#id_risk")).to_have_value("medium")
    expect(page.locator("#excusable")).to_contain_text("Would excuse 1 finding")
    shot(page, "exception-from-finding-1-prefilled")

    # Another rule found by name: the count follows.
    page.fill("#pick-rule", "rotated within")
    page.locator("#picker-rule .pick-results input[value=iam-key-rotation-age]").check()
    expect(page.locator("#excusable")).to_contain_text("Would excuse 2 findings")

    # A lower risk with no reason, no title, no date: every error at once.
    page.select_option("#id_risk", "low")
    expect(page.locator("#excusable")).to_contain_text("You chose a lower risk")
    page.fill("#id_title", "")
    page.click("text=Submit for approval")
    errors = page.locator(".exception-form")
    expect(errors).to_contain_text("Nothing was saved: correct every value marked below.")
    expect(errors).to_contain_text("say why the risk is only low")
    for field in ("title", "justification", "compensating_controls", "expires_on"):
        expect(page.locator(f"#id_{field}").locator("xpath=..").locator(".error")).not_to_have_count(0)
    expect(page.locator("#picker-credential .chosen")).to_contain_text("AKIAORPHAN")  # kept, by name
    shot(page, "exception-from-finding-2-errors")
    assert not ExceptionRequest.objects.exists()

    page.fill("#id_title", "Orphan batch key")
    page.fill("#id_justification", "The batch is being retired.")
    page.fill("#id_compensating_controls", "Key limited to one IP.")
    page.fill("#id_risk_reason", "Read-only key to a test bucket.")
    page.fill("#id_expires_on", (timezone.now().date() + dt.timedelta(days=20)).isoformat())
    page.click("text=Submit for approval")
    expect(page.locator("body")).to_contain_text("requested; it awaits 1 approval")
    expect(page.locator("#risk-reason")).to_contain_text("Read-only key to a test bucket.")
    shot(page, "exception-from-finding-3-requested")
    exception = ExceptionRequest.objects.get()
    assert exception.scope == {"credential_ids": [orphan.pk]} and exception.risk == "low"
    assert sorted(exception.rule_ids) == ["iam-key-rotation-age", "iam-key-unused"]
