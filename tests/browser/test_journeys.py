"""Two of the four users' journeys in a real browser (Debian's Chromium), against a live
server, PostgreSQL and the simulated cloud. Screenshots of the key pages land in
test-artifacts/screenshots/journey-*.png. (The access-review and evidence-pack journeys come
with those registers.)"""

import datetime as dt
import json
import urllib.request

import pytest

from apps.accounts.roles import Role
from tests.browser.conftest import shot
from tests.factories import make_user
from tests.support.cloud import ACCOUNT_A, cloud, moto_server_url, register_sources  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sign_in(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw-for-tests-only")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def _catalog() -> None:
    from apps.catalog.loader import read_catalog
    from apps.catalog.services import catalog_load

    catalog_load(data=read_catalog())


def test_grc_lead_registers_sources_collects_and_opens_what_fails(page, live_server, cloud):
    """Sign in, register a simulated AWS account and Key Vault, collect, watch the run finish,
    open a failing sub-requirement and a failing credential."""
    _catalog()
    make_user(Role.GRC_LEAD, username="journey-lead")
    _sign_in(page, live_server, "journey-lead")

    page.goto(f"{live_server.url}/inventory/sources/new/?kind=aws_account")
    page.fill("#id_name", "account-a")
    page.fill("#id_role_arn", f"arn:aws:iam::{ACCOUNT_A}:role/keytrail")
    page.fill("#id_regions", "eu-west-1, us-east-1")
    shot(page, "journey-a-1-register-aws")
    page.click("button:has-text('Save')")
    page.wait_for_selector("text=Source account-a registered.")

    page.goto(f"{live_server.url}/inventory/sources/new/?kind=azure_key_vault")
    page.fill("#id_name", "kv-a")
    page.fill("#id_vault_url", cloud.vaults[0].url)
    page.click("button:has-text('Save')")
    page.wait_for_selector("text=Source kv-a registered.")
    shot(page, "journey-a-2-source-registered")

    page.goto(f"{live_server.url}/inventory/sources/")
    page.click("text=Collect all")
    page.wait_for_url("**/inventory/runs/*/")
    page.wait_for_selector("#run-units .status-succeeded, #run-units .status-partial", timeout=60_000)
    body = page.inner_text("#run-units")
    assert "4 of 4 units finished" in body and "ListAccessKeys" in body
    assert page.locator("#run-units progress").get_attribute("value") == "4"
    assert page.locator("#run-units[hx-trigger]").count() == 0  # finished: the page stops polling
    shot(page, "journey-a-3-run-finished")

    page.goto(f"{live_server.url}/posture/")
    page.wait_for_selector("text=9.2.4.08")
    shot(page, "journey-a-4-posture")
    row = page.locator("tr", has=page.locator("text=9.2.4.08"))
    assert "Fail" in row.inner_text()
    row.locator("a:has-text('9.2.4.08')").first.click()
    page.wait_for_selector("text=iam-key-rotation-age")
    shot(page, "journey-a-5-failing-requirement")

    failing = page.locator("table a[href*='/inventory/credentials/']").first
    name = failing.inner_text()
    failing.click()
    page.wait_for_selector("text=Rule verdicts")
    assert name[:20] in page.inner_text("h1") or name[:20] in page.inner_text("body")
    assert "Fail" in page.inner_text("body")
    shot(page, "journey-a-6-failing-credential")

    # The lead's script will call the API: a read-only token, shown once.
    page.click("header >> text=API tokens")
    page.fill("#id_name", "ticketing sync")
    page.click("button:has-text('Create token')")
    token = page.inner_text("#new-token")
    assert token.startswith("kt_")
    shot(page, "journey-a-7-api-token-created")
    # What the README's curl example does, over real HTTP.
    request = urllib.request.Request(f"{live_server.url}/api/v1/findings/?status=fail",
                                     headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        findings = json.load(response)
    assert findings["count"] > 0 and all(f["status"] == "fail" for f in findings["results"])
    page.goto(f"{live_server.url}/account/tokens/all/")
    assert "ticketing sync" in page.inner_text("tbody") and token not in page.content()
    shot(page, "journey-a-8-token-inventory")

    # The interactive API docs render from keytrail's own static files (no CDN).
    external = []
    page.on("request", lambda r: external.append(r.url) if not r.url.startswith(live_server.url) else None)
    page.goto(f"{live_server.url}/api/v1/docs/")
    page.wait_for_selector("text=/api/v1/findings/", timeout=30_000)
    assert external == []
    shot(page, "journey-a-9-api-docs")


def test_an_exception_is_requested_approved_and_the_finding_shows_excepted(browser, page, live_server, cloud):
    """The GRC lead requests an exception from a failing finding; an approver approves it from
    the queue; after the next evaluation the finding is excepted."""
    from apps.inventory.services.collection import collection_start

    _catalog()
    lead = make_user(Role.GRC_LEAD, username="journey-requester")
    make_user(Role.APPROVER, username="journey-approver")
    collection_start(actor=lead, sources=register_sources(lead, cloud)[:1])  # eager: collected and evaluated on commit

    _sign_in(page, live_server, "journey-requester")
    page.goto(f"{live_server.url}/posture/findings/?rule=iam-key-rotation-age&status=fail")
    first = page.locator("tbody tr").first
    subject = first.locator("a[href*='/inventory/credentials/']").inner_text()
    first.locator("a.request-exception").click()
    page.wait_for_selector("h1:has-text('Request an exception')")
    page.fill("#id_title", "Batch job key awaiting the vendor's rotation support")
    page.fill("#id_justification", "The vendor's batch client cannot reload keys until release 4.2.")
    page.fill("#id_compensating_controls", "Key limited to one IP range; CloudTrail alert on any other use.")
    page.select_option("#id_risk", "low")
    page.fill("#id_expires_on", (dt.date.today() + dt.timedelta(days=60)).isoformat())
    shot(page, "journey-b-1-request-form")
    page.click("button[value=submit]")
    page.wait_for_selector("text=requested; it awaits 1 approval")
    ref = page.inner_text("h1").split()[0]
    shot(page, "journey-b-2-requested")

    approver_context = browser.new_context(viewport={"width": 1366, "height": 900})
    approver = approver_context.new_page()
    _sign_in(approver, live_server, "journey-approver")
    approver.goto(f"{live_server.url}/exceptions/queue/")
    shot(approver, "journey-b-3-approval-queue")
    approver.click(f"text={ref}")
    approver.fill("#id_approve-comment", "Compensating controls are adequate until the vendor release.")
    approver.click("button:has-text('Approve')")
    approver.wait_for_selector(f"text={ref} is approved.")
    shot(approver, "journey-b-4-approved")
    approver_context.close()

    page.goto(f"{live_server.url}/posture/")
    page.click("button:has-text('Evaluate now')")
    page.wait_for_selector("text=finished")
    page.goto(f"{live_server.url}/posture/findings/?rule=iam-key-rotation-age&status=excepted")
    excepted = page.inner_text("tbody")
    assert subject in excepted and "exception #" in excepted
    shot(page, "journey-b-5-finding-excepted")
