"""Evidence packs in a real browser: a GRC lead creates an engagement, shares it and builds a
pack; the auditor downloads it and verifies the downloaded file on the verify page."""

import pytest
from playwright.sync_api import expect

from apps.accounts.roles import Role
from tests.factories import make_user
from tests.support.browser import shot
from tests.support.evidence import world  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page, url, username):
    page.goto(f"{url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw-for-tests-only")
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/")


def test_an_engagement_from_creation_to_a_verified_download(page, live_server, world, tmp_path):
    make_user(Role.AUDITOR, username="ada")
    _login(page, live_server.url, "grc")
    page.click("nav >> text=Evidence packs")
    page.click("text=New engagement")
    page.fill("#id_name", "Browser audit")
    page.fill("#id_period_start", "2026-01-01")
    page.fill("#id_period_end", "2026-12-31")
    page.click("button:has-text('Create')")
    expect(page.locator("h1")).to_contain_text("Browser audit")
    page.click("text=Share with auditors")
    page.select_option("#id_user", label="ada")
    page.check("input[value=view_engagement]")
    page.click("button:has-text('Grant')")
    page.fill("#id_sample_size", "3")
    page.click("button:has-text('Build pack')")
    page.wait_for_url("**/packs/*/")
    expect(page.get_by_text("Succeeded").filter(visible=True).first).to_be_visible(timeout=120_000)
    expect(page.locator("body")).to_contain_text("pack.pdf")
    shot(page, "evidence-pack")

    page.context.clear_cookies()  # signed out
    _login(page, live_server.url, "ada")
    page.goto(f"{live_server.url}/evidence/")
    expect(page.locator("body")).to_contain_text("Browser audit")
    expect(page.locator("body")).not_to_contain_text("FY2026 ISO 27017 audit")
    page.click("text=Browser audit")
    with page.expect_download() as info:
        page.click("text=Download")
    path = tmp_path / "pack.zip"
    info.value.save_as(path)
    page.goto(f"{live_server.url}/evidence/verify/")
    page.set_input_files("#id_file", str(path))
    page.click("button:has-text('Verify')")
    expect(page.locator("h1")).to_contain_text("The pack is intact")
    shot(page, "evidence-verified")
