"""The inventory in a real browser: a GRC lead collects the simulated cloud and reads the result."""

import re

import pytest
from playwright.sync_api import expect

from apps.accounts.roles import Role
from tests.factories import make_user
from tests.support.browser import shot
from tests.support.cloud import cloud, moto_server_url, register_sources  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_grc_lead_collects_and_browses_the_inventory(page, live_server, cloud):
    lead = make_user(Role.GRC_LEAD, username="lead")
    register_sources(lead, cloud)
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "lead")
    page.fill("#id_password", "pw-for-tests-only")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")

    page.click("nav >> text=Inventory")
    page.goto(f"{live_server.url}/inventory/sources/")
    shot(page, "inventory-sources-before")
    page.click("text=Collect all")
    page.wait_for_url("**/inventory/runs/*/")
    expect(page.get_by_text("Succeeded").filter(visible=True).first).to_be_visible(timeout=120_000)
    expect(page.locator("body")).to_contain_text("ListAccessKeys")
    shot(page, "inventory-run-detail")

    page.goto(f"{live_server.url}/inventory/credentials/")
    expect(page.locator("tbody tr").nth(19)).to_be_attached()  # at least 20 rows
    shot(page, "inventory-credentials")
    page.goto(f"{live_server.url}/inventory/credentials/?q=AKIA")
    page.locator("tbody tr a").first.click()
    page.wait_for_url("**/inventory/credentials/*/")
    expect(page.locator("body")).to_contain_text(re.compile("[Aa]ppeared"))
    shot(page, "inventory-credential-detail")

    page.goto(f"{live_server.url}/inventory/identities/")
    shot(page, "inventory-identities")


def test_grc_lead_reads_the_posture_after_a_collection(page, live_server, cloud):
    from apps.catalog.loader import read_catalog
    from apps.catalog.services import catalog_load
    from apps.inventory.services.collection import collection_start

    catalog_load(data=read_catalog())
    lead = make_user(Role.GRC_LEAD, username="lead2")
    collection_start(actor=lead, sources=register_sources(lead, cloud))  # eager; evaluation follows on commit
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "lead2")
    page.fill("#id_password", "pw-for-tests-only")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/posture/")
    expect(page.locator("body")).to_contain_text("9.2.4.08")
    expect(page.locator("body")).to_contain_text("Fail")
    shot(page, "posture-dashboard")
    page.click("text=9.2.4.08")
    expect(page.get_by_text("iam-key-rotation-age").filter(visible=True).first).to_be_visible()
    expect(page.locator("body")).to_contain_text("days")
    shot(page, "posture-requirement")
    page.goto(f"{live_server.url}/posture/policy/")
    shot(page, "posture-policy")
