"""The four users' journeys in a real browser (Debian's Chromium), against a live server,
PostgreSQL and (for the first two) the simulated cloud. Screenshots of the key pages land in
test-artifacts/screenshots/journey-*.png.

(a) a GRC lead registers sources, collects and opens what fails; (b) an exception is requested,
approved and the finding shows excepted; (c) a GRC lead who must use two-factor sign-in enrols
TOTP and starts a campaign, and a reviewer decides in bulk and cannot decide their own access;
(d) a GRC lead verifies a TOTP code and builds a pack, and an auditor downloads and verifies it
and cannot open another engagement. tests/browser/test_review_pages.py and
tests/browser/test_evidence_pages.py go deeper into those pages (a forged post for one's own
item; verifying an uploaded copy)."""

import base64
import datetime as dt
import hashlib
import json
import re
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import expect

from apps.accounts.roles import Role
from tests.factories import EngagementFactory, make_user
from tests.support.browser import new_context, shot, totp_code
from tests.support.cloud import ACCOUNT_A, cloud, moto_server_url, register_sources  # noqa: F401
from tests.support.evidence import world  # noqa: F401
from tests.support.reviews import inventory, people  # noqa: F401

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
    expect(page.get_by_text("Source account-a registered.").filter(visible=True).first).to_be_visible()

    page.goto(f"{live_server.url}/inventory/sources/new/?kind=azure_key_vault")
    page.fill("#id_name", "kv-a")
    page.fill("#id_vault_url", cloud.vaults[0].url)
    page.click("button:has-text('Save')")
    expect(page.get_by_text("Source kv-a registered.").filter(visible=True).first).to_be_visible()
    shot(page, "journey-a-2-source-registered")

    page.goto(f"{live_server.url}/inventory/sources/")
    page.click("text=Collect all")
    page.wait_for_url("**/inventory/runs/*/")
    units = page.locator("#run-units")
    # IAM, Secrets Manager and SSM per region, the vault's secrets, keys and certificates
    expect(units).to_contain_text("8 of 8 units finished", timeout=120_000)
    expect(units).to_contain_text("ListAccessKeys")
    expect(units.locator("progress")).to_have_attribute("value", "8")
    expect(page.locator("#run-units[hx-trigger]")).to_have_count(0)  # finished: the page stops polling
    shot(page, "journey-a-3-run-finished")

    page.goto(f"{live_server.url}/posture/")
    row = page.locator("tr", has=page.locator("text=9.2.4.08"))
    expect(row).to_contain_text("Fail")
    shot(page, "journey-a-4-posture")
    row.locator("a:has-text('9.2.4.08')").first.click()
    expect(page.get_by_text("iam-key-rotation-age").filter(visible=True).first).to_be_visible()
    shot(page, "journey-a-5-failing-requirement")

    failing = page.locator("table a[href*='/inventory/credentials/']").first
    name = failing.inner_text()
    failing.click()
    expect(page.get_by_text("Rule verdicts").filter(visible=True).first).to_be_visible()
    expect(page.locator("body")).to_contain_text(name[:20])  # in the heading or the page
    expect(page.locator("body")).to_contain_text("Fail")
    shot(page, "journey-a-6-failing-credential")

    # The lead's script will call the API: a read-only token, shown once.
    page.click("header >> text=API tokens")
    page.fill("#id_name", "ticketing sync")
    page.click("button:has-text('Create token')")
    expect(page.locator("#new-token")).to_have_text(re.compile(r"^\s*kt_"))
    token = page.inner_text("#new-token").strip()
    shot(page, "journey-a-7-api-token-created")
    # What the README's curl example does, over real HTTP.
    request = urllib.request.Request(f"{live_server.url}/api/v1/findings/?status=fail", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        findings = json.load(response)
    assert findings["count"] > 0 and all(f["status"] == "fail" for f in findings["results"])
    page.goto(f"{live_server.url}/account/tokens/all/")
    expect(page.locator("tbody")).to_contain_text("ticketing sync")
    assert token not in page.content()
    shot(page, "journey-a-8-token-inventory")

    # The interactive API docs render from keytrail's own static files (no CDN).
    external = []
    page.on("request", lambda r: external.append(r.url) if not r.url.startswith(live_server.url) else None)
    page.goto(f"{live_server.url}/api/v1/docs/")
    expect(page.get_by_text("/api/v1/findings/").filter(visible=True).first).to_be_visible(timeout=60_000)
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
    expect(page.locator("h1")).to_contain_text("Request an exception")
    page.fill("#id_title", "Batch job key awaiting the vendor's rotation support")
    page.fill("#id_justification", "The vendor's batch client cannot reload keys until release 4.2.")
    page.fill("#id_compensating_controls", "Key limited to one IP range; CloudTrail alert on any other use.")
    page.select_option("#id_risk", "low")
    # Below the rule's severity (high): the form asks why, and the approver will see it.
    page.fill("#id_risk_reason", "One IP range and an alert on any other use leave little exposure.")
    page.fill("#id_expires_on", (dt.date.today() + dt.timedelta(days=60)).isoformat())
    shot(page, "journey-b-1-request-form")
    page.click("button[value=submit]")
    expect(page.get_by_text("requested; it awaits 1 approval").filter(visible=True).first).to_be_visible()
    ref = page.inner_text("h1").split()[0]
    shot(page, "journey-b-2-requested")

    approver_context = new_context(browser)
    approver = approver_context.new_page()
    _sign_in(approver, live_server, "journey-approver")
    approver.goto(f"{live_server.url}/exceptions/queue/")
    shot(approver, "journey-b-3-approval-queue")
    approver.click(f"text={ref}")
    approver.fill("#id_approve-comment", "Compensating controls are adequate until the vendor release.")
    approver.click("button:has-text('Approve')")
    expect(approver.get_by_text(f"{ref} is approved.").filter(visible=True).first).to_be_visible()
    shot(approver, "journey-b-4-approved")
    approver_context.close()

    page.goto(f"{live_server.url}/posture/")
    page.click("button:has-text('Evaluate now')")
    expect(page.get_by_text("finished").filter(visible=True).first).to_be_visible(timeout=120_000)
    page.goto(f"{live_server.url}/posture/findings/?rule=iam-key-rotation-age&status=excepted")
    expect(page.locator("tbody")).to_contain_text(subject)
    expect(page.locator("tbody")).to_contain_text("exception #")
    shot(page, "journey-b-5-finding-excepted")


# --- (c) and (d): two-factor sign-in, access reviews, evidence packs ---------------------------

MFA_ROLES = [Role.GRC_LEAD, Role.APPROVER]


def _password(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw-for-tests-only")
    page.click("button[type=submit]")


def _api(live_server, token: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    """The API over real HTTP, as a script would call it."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{live_server.url}{path}",
        data=data,
        method="POST" if body is not None else "GET",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def test_access_review_lead_enrols_totp_and_a_reviewer_decides_in_bulk_but_not_their_own(
    browser, page, live_server, settings, people, inventory
):  # noqa: F811
    from apps.reviews.models import Campaign, ReviewItem
    from tests.support.clients import issue

    settings.KEYTRAIL_MFA_REQUIRED_ROLES = MFA_ROLES

    # The GRC lead signs in and must enrol an authenticator first: reads the key as typed by
    # hand, computes the code an app would show, confirms.
    _password(page, live_server, "grc-lead")
    expect(page.locator("h1")).to_contain_text("Two-factor sign-in")
    page.click("text=Cannot scan? Type the key instead")
    expect(page.locator("code.secret")).to_be_visible()
    secret = page.inner_text("code.secret").strip()
    shot(page, "journey-c-1-totp-enrol")
    page.fill("#id_token", totp_code(base64.b32decode(secret + "=" * (-len(secret) % 8))))
    page.click("button:has-text('Confirm and continue')")
    page.wait_for_url(f"{live_server.url}/")

    page.goto(f"{live_server.url}/reviews/new/")
    page.fill("#id_name", "Q4 production keys")
    page.select_option("#id_sources", label=inventory["source"].name)
    page.select_option("#id_fallback_reviewer", label="fallback")
    page.fill("#id_due_date", (dt.date.today() + dt.timedelta(days=14)).isoformat())
    shot(page, "journey-c-2-new-campaign")
    page.click("button:has-text('Create draft')")
    expect(page.get_by_text("Draft campaign created").filter(visible=True).first).to_be_visible()
    page.click("button:has-text('Start: freeze the population')")
    expect(page.get_by_text("items frozen").filter(visible=True).first).to_be_visible()
    campaign = Campaign.objects.get(name="Q4 production keys")
    assert campaign.state == Campaign.State.ACTIVE
    shot(page, "journey-c-3-campaign-started")

    # Alice reviews (no second factor for her role): her items only; her own key went to the fallback.
    alice_context = new_context(browser)
    alice = alice_context.new_page()
    _password(alice, live_server, "alice")
    alice.wait_for_url(f"{live_server.url}/")
    alice.click("nav >> text=Reviews")
    alice.click("text=Q4 production keys")
    alice.wait_for_url(f"**/reviews/{campaign.pk}/")
    expect(alice.locator("#items")).to_contain_text("AKIASVC")
    expect(alice.locator("#items")).not_to_contain_text("AKIAALICE")
    mine = list(campaign.items.filter(reviewer=people["alice"]).values_list("pk", flat=True))
    alice.click("input[aria-label='Select all']")
    alice.select_option("#id_decision", "rotate")
    alice.click("text=Decide selected")
    expect(alice.locator("body")).to_contain_text("Nothing was changed: Justification")  # every decision needs a reason here
    alice.click("input[aria-label='Select all']")
    alice.select_option("#id_decision", "rotate")
    alice.fill("#id_justification", "Keys older than 180 days; the batch owner rotates them this sprint.")
    shot(alice, "journey-c-4-bulk-decision")
    alice.click("text=Decide selected")
    expect(alice.get_by_text(f"{len(mine)} item(s) decided: rotate.").filter(visible=True).first).to_be_visible()
    expect(alice.locator("#items .status-rotate")).to_have_count(len(mine))
    shot(alice, "journey-c-5-decided")

    # Her own key: the lead cannot hand it to her, and deciding it through the API is refused.
    own = campaign.items.get(credential=inventory["alice_key"])
    row = page.get_by_role("row", name=re.compile(r"^fallback "))
    row.locator("select[name=to_reviewer]").select_option(label="alice")
    row.locator("input[name=note]").fill("fallback is on leave")
    row.locator("button:has-text('Reassign undecided')").click()
    expect(page.locator("body")).to_contain_text("would review their own identity")
    assert ReviewItem.objects.get(pk=own.pk).reviewer_id == people["fallback"].pk
    shot(page, "journey-c-6-self-review-refused")
    status, body = _api(
        live_server,
        issue(people["alice"]),
        f"/api/v1/campaigns/{campaign.pk}/decide/",
        {"items": [own.pk], "decision": "keep", "justification": "I still need it"},
    )
    assert status == 403 and "nothing was decided" in body["detail"]
    assert ReviewItem.objects.get(pk=own.pk).decision == ""
    alice_context.close()

    page.reload()
    expect(page.locator("body")).to_contain_text("Progress per reviewer")
    expect(page.locator("body")).to_contain_text("alice")
    shot(page, "journey-c-7-lead-sees-progress")


def test_evidence_lead_verifies_totp_builds_a_pack_and_an_auditor_downloads_and_verifies_it(
    browser, page, live_server, settings, world, grc_lead, auditor, tmp_path
):  # noqa: F811
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from apps.evidence.models import Pack

    settings.KEYTRAIL_MFA_REQUIRED_ROLES = MFA_ROLES
    device = TOTPDevice.objects.create(user=grc_lead, name="phone", confirmed=True)
    engagement = world["engagement"]
    other = EngagementFactory(
        name="Vendor due diligence", period_start=dt.date(2026, 1, 1), period_end=dt.date(2026, 6, 30), created_by=grc_lead
    )
    waiting = Pack.objects.create(engagement=other, pack_id="KT-WAITING", as_of=dt.datetime.now(dt.UTC), sample_seed=1, built_by=grc_lead)

    # The lead's second factor: the verify page, the code from the enrolled device.
    _password(page, live_server, "grc")
    expect(page.locator("h1")).to_contain_text("Verify it is you")
    page.fill("#id_token", totp_code(device.bin_key))
    shot(page, "journey-d-1-totp-verify")
    page.click("button:has-text('Verify')")
    page.wait_for_url(f"{live_server.url}/")

    # A pack no worker has picked up yet shows where it stands and keeps polling.
    page.goto(f"{live_server.url}/evidence/{other.pk}/packs/{waiting.pk}/")
    block = page.locator("#pack-progress")
    expect(block).to_contain_text("0% · waiting for a worker")
    expect(block).to_have_attribute("hx-trigger", "every 2s")

    page.goto(f"{live_server.url}/evidence/{engagement.pk}/")
    page.fill("#id_sample_size", "5")
    page.click("button:has-text('Build pack')")
    page.wait_for_url("**/packs/*/")
    expect(page.locator("#pack-progress .status-succeeded")).to_be_visible(timeout=120_000)
    expect(page.locator("#pack-progress progress")).to_have_attribute("value", "100")
    expect(page.locator("#pack-progress[hx-trigger]")).to_have_count(0)  # finished: polling stops
    pack = Pack.objects.filter(engagement=engagement).get()
    shot(page, "journey-d-2-pack-built")

    # The auditor it is shared with: downloads, checks the bytes, verifies the stored pack.
    auditor_context = new_context(browser, accept_downloads=True)
    aud = auditor_context.new_page()
    _password(aud, live_server, "auditor")
    aud.wait_for_url(f"{live_server.url}/")
    aud.click("nav >> text=Evidence packs")
    aud.wait_for_url(f"{live_server.url}/evidence/")
    expect(aud.locator("body")).to_contain_text(engagement.name)
    expect(aud.locator("body")).not_to_contain_text(other.name)
    aud.click(f"text={engagement.name}")
    aud.click(f"text={pack.pack_id}")
    shot(aud, "journey-d-3-auditor-pack")
    with aud.expect_download() as info:
        aud.click(f"text=Download {pack.filename}")
    path = tmp_path / pack.filename
    info.value.save_as(path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == pack.sha256
    aud.click("button:has-text('Verify stored pack')")
    expect(aud.locator("h1")).to_contain_text("The pack is intact")
    shot(aud, "journey-d-4-verified")
    from apps.audit.models import AuditEvent

    assert AuditEvent.objects.filter(event_type="pack.downloaded", actor=auditor, target_id=str(pack.pk)).count() == 1
    assert AuditEvent.objects.filter(event_type="pack.verified", actor=auditor, target_id=str(pack.pk)).count() == 1

    # Another engagement, and its pack: not found, and the attempt recorded.
    denied = AuditEvent.objects.filter(event_type="access.denied", actor=auditor).count()
    for url in (f"/evidence/{other.pk}/", f"/evidence/{other.pk}/packs/{waiting.pk}/", f"/evidence/{engagement.pk}/packs/{waiting.pk}/"):
        response = aud.goto(f"{live_server.url}{url}")
        assert response.status == 404
        expect(aud.locator("h1")).to_contain_text("Not found")
    shot(aud, "journey-d-5-other-engagement-not-found")
    assert AuditEvent.objects.filter(event_type="access.denied", actor=auditor).count() >= denied + 2
    auditor_context.close()
