"""The foundation's pages in a real browser: sign in, catalog, a control, its history."""

import re

import pytest
from playwright.sync_api import expect

from apps.catalog.loader import read_catalog
from apps.catalog.services import catalog_load
from apps.devtools.demo.seed import DEMO_USERS, seed_demo
from tests.support.browser import shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo(transactional_db):
    catalog_load(data=read_catalog())
    seed_demo()
    roles: dict = {}
    for u in DEMO_USERS:  # the first of each role (the demo has two approvers)
        roles.setdefault(u.role, u)
    return roles


def _sign_in(page, live_server, user):
    page.goto(f"{live_server.url}/")
    assert "/accounts/login/" in page.url  # anonymous users see only the login page
    page.fill("#id_username", user.username)
    page.fill("#id_password", user.password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def test_grc_lead_walks_catalog_and_controls(page, live_server, demo):
    _sign_in(page, live_server, demo["grc_lead"])
    expect(page.locator("h1")).to_contain_text("Northwind")
    shot(page, "foundation-home-grc-lead")

    page.click("nav >> text=Requirements")
    page.wait_for_url(re.compile(r"/catalog/"))
    expect(page.locator("#rows tbody tr").nth(14)).to_be_attached()  # at least 15 requirements
    page.fill("input[name=q]", "break-glass")
    page.locator("#rows tbody tr").nth(4).wait_for(state="detached")  # htmx live filter (no eval: the CSP forbids it)
    shot(page, "foundation-catalog-filtered")

    page.click("nav >> text=Controls")
    page.click("text=CTL-001")
    expect(page.locator("h1")).to_contain_text("CTL-001")
    assert "Manual evidence" in page.content()
    expect(page.locator("code.hash").first).to_have_text(re.compile(r"^\s*\S{64}\s*$"))
    expect(page.locator("body")).to_contain_text("control.created")
    shot(page, "foundation-control-detail")


def test_auditor_sees_only_shared_controls_and_no_buttons(page, live_server, demo):
    _sign_in(page, live_server, demo["auditor"])
    page.goto(f"{live_server.url}/controls/")
    refs = page.locator("#rows tbody td:first-child")
    expect(refs).to_have_count(3)
    assert sorted(refs.all_inner_texts()) == ["CTL-001", "CTL-004", "CTL-006"]
    page.click("text=CTL-001")
    expect(page.locator("h1")).to_contain_text("CTL-001")
    assert page.locator("text=Edit").count() == 0 and page.locator("text=Attach evidence").count() == 0
    assert page.locator("nav >> text=Audit trail").count() == 0
    shot(page, "foundation-control-auditor")
