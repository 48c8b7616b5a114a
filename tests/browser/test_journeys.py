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

from apps.accounts.roles import Role
from tests.support.browser import shot
from tests.factories import make_user
from tests.support.evidence import world  # noqa: F401
from tests.support.reviews import inventory, people  # noqa: F401
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


# --- (c) and (d): two-factor sign-in, access reviews, evidence packs ---------------------------

MFA_ROLES = [Role.GRC_LEAD, Role.APPROVER]


def _password(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw-for-tests-only")
    page.click("button[type=submit]")


def _code(key: bytes) -> str:
    from django_otp.oath import totp

    return f"{totp(key, step=30, t0=0, digits=6):06d}"


def _api(live_server, token: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    """The API over real HTTP, as a script would call it."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{live_server.url}{path}", data=data, method="POST" if body is not None else "GET",
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def test_access_review_lead_enrols_totp_and_a_reviewer_decides_in_bulk_but_not_their_own(browser, page, live_server, settings, people, inventory):  # noqa: F811
    from apps.reviews.models import Campaign, ReviewItem
    from tests.support.clients import issue

    settings.KEYTRAIL_MFA_REQUIRED_ROLES = MFA_ROLES

    # The GRC lead signs in and must enrol an authenticator first: reads the key as typed by
    # hand, computes the code an app would show, confirms.
    _password(page, live_server, "grc-lead")
    page.wait_for_selector("h1:has-text('Two-factor sign-in')")
    page.click("text=Cannot scan? Type the key instead")
    secret = page.inner_text("code.secret").strip()
    shot(page, "journey-c-1-totp-enrol")
    page.fill("#id_token", _code(base64.b32decode(secret + "=" * (-len(secret) % 8))))
    page.click("button:has-text('Confirm and continue')")
    page.wait_for_url(f"{live_server.url}/")

    page.goto(f"{live_server.url}/reviews/new/")
    page.fill("#id_name", "Q4 production keys")
    page.select_option("#id_sources", label=inventory["source"].name)
    page.select_option("#id_fallback_reviewer", label="fallback")
    page.fill("#id_due_date", (dt.date.today() + dt.timedelta(days=14)).isoformat())
    shot(page, "journey-c-2-new-campaign")
    page.click("button:has-text('Create draft')")
    page.wait_for_selector("text=Draft campaign created")
    page.click("button:has-text('Start: freeze the population')")
    page.wait_for_selector("text=items frozen")
    campaign = Campaign.objects.get(name="Q4 production keys")
    assert campaign.state == Campaign.State.ACTIVE
    shot(page, "journey-c-3-campaign-started")

    # Alice reviews (no second factor for her role): her items only; her own key went to the fallback.
    alice_context = browser.new_context(viewport={"width": 1366, "height": 900})
    alice = alice_context.new_page()
    _password(alice, live_server, "alice")
    alice.click("nav >> text=Reviews")
    alice.click("text=Q4 production keys")
    items = alice.inner_text("#items")
    assert "AKIASVC" in items and "AKIAALICE" not in items
    mine = list(campaign.items.filter(reviewer=people["alice"]).values_list("pk", flat=True))
    alice.click("input[aria-label='Select all']")
    alice.select_option("#id_decision", "rotate")
    alice.click("text=Decide selected")
    assert "Nothing was changed: Justification" in alice.inner_text("body")  # every decision needs a reason here
    alice.click("input[aria-label='Select all']")
    alice.select_option("#id_decision", "rotate")
    alice.fill("#id_justification", "Keys older than 180 days; the batch owner rotates them this sprint.")
    shot(alice, "journey-c-4-bulk-decision")
    alice.click("text=Decide selected")
    alice.wait_for_selector(f"text={len(mine)} item(s) decided: rotate.")
    assert alice.locator("#items .status-rotate").count() == len(mine)
    shot(alice, "journey-c-5-decided")

    # Her own key: the lead cannot hand it to her, and deciding it through the API is refused.
    own = campaign.items.get(credential=inventory["alice_key"])
    row = page.get_by_role("row", name=re.compile(r"^fallback "))
    row.locator("select[name=to_reviewer]").select_option(label="alice")
    row.locator("input[name=note]").fill("fallback is on leave")
    row.locator("button:has-text('Reassign undecided')").click()
    assert "would review their own identity" in page.inner_text("body")
    assert ReviewItem.objects.get(pk=own.pk).reviewer_id == people["fallback"].pk
    shot(page, "journey-c-6-self-review-refused")
    status, body = _api(live_server, issue(people["alice"]), f"/api/v1/campaigns/{campaign.pk}/decide/",
                        {"items": [own.pk], "decision": "keep", "justification": "I still need it"})
    assert status == 403 and "nothing was decided" in body["detail"]
    assert ReviewItem.objects.get(pk=own.pk).decision == ""
    alice_context.close()

    page.reload()
    progress = page.inner_text("body")
    assert "Progress per reviewer" in progress and "alice" in progress
    shot(page, "journey-c-7-lead-sees-progress")


def test_evidence_lead_verifies_totp_builds_a_pack_and_an_auditor_downloads_and_verifies_it(browser, page, live_server, settings, world, grc_lead, auditor, tmp_path):  # noqa: F811
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from apps.evidence.models import Engagement, Pack

    settings.KEYTRAIL_MFA_REQUIRED_ROLES = MFA_ROLES
    device = TOTPDevice.objects.create(user=grc_lead, name="phone", confirmed=True)
    engagement = world["engagement"]
    other = Engagement.objects.create(name="Vendor due diligence", period_start=dt.date(2026, 1, 1), period_end=dt.date(2026, 6, 30),
                                      created_by=grc_lead)
    waiting = Pack.objects.create(engagement=other, pack_id="KT-WAITING", as_of=dt.datetime.now(dt.UTC), sample_seed=1, built_by=grc_lead)

    # The lead's second factor: the verify page, the code from the enrolled device.
    _password(page, live_server, "grc")
    page.wait_for_selector("h1:has-text('Verify it is you')")
    page.fill("#id_token", _code(device.bin_key))
    shot(page, "journey-d-1-totp-verify")
    page.click("button:has-text('Verify')")
    page.wait_for_url(f"{live_server.url}/")

    # A pack no worker has picked up yet shows where it stands and keeps polling.
    page.goto(f"{live_server.url}/evidence/{other.pk}/packs/{waiting.pk}/")
    block = page.locator("#pack-progress")
    assert "0% · waiting for a worker" in block.inner_text() and block.get_attribute("hx-trigger") == "every 2s"

    page.goto(f"{live_server.url}/evidence/{engagement.pk}/")
    page.fill("#id_sample_size", "5")
    page.click("button:has-text('Build pack')")
    page.wait_for_url("**/packs/*/")
    page.wait_for_selector("#pack-progress .status-succeeded", timeout=90_000)
    assert page.locator("#pack-progress progress").get_attribute("value") == "100"
    assert page.locator("#pack-progress[hx-trigger]").count() == 0  # finished: polling stops
    pack = Pack.objects.filter(engagement=engagement).get()
    shot(page, "journey-d-2-pack-built")

    # The auditor it is shared with: downloads, checks the bytes, verifies the stored pack.
    auditor_context = browser.new_context(viewport={"width": 1366, "height": 900}, accept_downloads=True)
    aud = auditor_context.new_page()
    _password(aud, live_server, "auditor")
    aud.click("nav >> text=Evidence packs")
    listed = aud.inner_text("main") if aud.locator("main").count() else aud.inner_text("body")
    assert engagement.name in listed and other.name not in listed
    aud.click(f"text={engagement.name}")
    aud.click(f"text={pack.pack_id}")
    shot(aud, "journey-d-3-auditor-pack")
    with aud.expect_download() as info:
        aud.click(f"text=Download {pack.filename}")
    path = tmp_path / pack.filename
    info.value.save_as(path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == pack.sha256
    aud.click("button:has-text('Verify stored pack')")
    aud.wait_for_selector("h1:has-text('The pack is intact')")
    shot(aud, "journey-d-4-verified")
    from apps.audit.models import AuditEvent

    assert AuditEvent.objects.filter(event_type="pack.downloaded", actor=auditor, target_id=str(pack.pk)).count() == 1
    assert AuditEvent.objects.filter(event_type="pack.verified", actor=auditor, target_id=str(pack.pk)).count() == 1

    # Another engagement, and its pack: not found, and the attempt recorded.
    denied = AuditEvent.objects.filter(event_type="access.denied", actor=auditor).count()
    for url in (f"/evidence/{other.pk}/", f"/evidence/{other.pk}/packs/{waiting.pk}/", f"/evidence/{engagement.pk}/packs/{waiting.pk}/"):
        response = aud.goto(f"{live_server.url}{url}")
        assert response.status == 404 and "Not found" in aud.inner_text("h1")
    shot(aud, "journey-d-5-other-engagement-not-found")
    assert AuditEvent.objects.filter(event_type="access.denied", actor=auditor).count() >= denied + 2
    auditor_context.close()
