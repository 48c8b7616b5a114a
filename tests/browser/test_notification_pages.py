"""Webhooks in a real browser: the GRC lead registers an endpoint (its secret shown once), an
approver's decision reaches a real receiver, signed, and the delivery log shows it; the
requester's e-mail links to the exception."""

import json
import re
import time

import pytest
from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect

from apps.catalog.loader import read_catalog
from apps.catalog.services import catalog_load
from apps.devtools.demo.seed import DEMO_USERS, seed_demo
from apps.notifications import signing
from apps.notifications.models import WebhookEndpoint
from tests.factories import ExceptionRequestFactory
from tests.support.browser import new_context, shot
from tests.support.webhooks import webhook_receiver  # noqa: F401 - fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo(transactional_db):
    catalog_load(data=read_catalog())
    seed_demo()
    return {u.role: u for u in DEMO_USERS}


def _sign_in(page, live_server, user):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", user.password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def test_grc_lead_registers_a_webhook_and_sees_the_approval_delivered(page, browser, live_server, demo, webhook_receiver, settings):
    from django.contrib.auth import get_user_model

    settings.KEYTRAIL_BASE_URL = live_server.url
    _sign_in(page, live_server, demo["grc_lead"])
    page.click("header >> text=Webhooks")
    expect(page.locator("h1")).to_have_text("Webhooks")
    page.fill("#id_name", "SecOps chat")
    page.fill("#id_url", webhook_receiver.url)
    page.check("input[name=events][value='exception.approved']")
    page.check("input[name=events][value='exception.rejected']")
    page.click("button:has-text('Register endpoint')")
    secret = page.locator("#new-secret")
    expect(secret).to_have_text(re.compile(r"^whsec_\S{40,}$"))
    endpoint = WebhookEndpoint.objects.get()
    assert secret.inner_text() == signing.decrypt(endpoint.secret_encrypted)
    shot(page, "notifications-webhook-registered")

    User = get_user_model()
    rosa = User.objects.get(username=next(u.username for u in DEMO_USERS if u.role == "reviewer"))
    exception = ExceptionRequestFactory(requester=rosa, owner=rosa, state="pending", submitted_at=timezone.now(), title="Build server key")
    approver = new_context(browser)
    other = approver.new_page()
    _sign_in(other, live_server, demo["approver"])
    other.goto(f"{live_server.url}/exceptions/{exception.pk}/")
    other.locator("form[action$='/approve/'] textarea").fill("Fine until the migration.")
    other.click("form[action$='/approve/'] button[type=submit]")
    expect(other.locator("body")).to_contain_text("Approved")
    approver.close()

    (request,) = webhook_receiver.requests
    assert signing.verify(secret.inner_text(), request.headers["x-keytrail-signature"], request.body, now=int(time.time()))
    assert json.loads(request.body)["url"] == f"{live_server.url}/exceptions/{exception.pk}/"
    (message,) = [m for m in mail.outbox if m.to == [rosa.email]]
    assert f"{live_server.url}/exceptions/{exception.pk}/" in message.body

    page.click("table >> a:has-text('SecOps chat')")
    page.wait_for_url(re.compile(rf"/webhooks/{endpoint.pk}/$"))
    expect(page.locator("table").first).to_contain_text("exception.approved")
    expect(page.locator("table").first).to_contain_text("Delivered")
    assert secret.count() == 0  # the secret is not shown again
    shot(page, "notifications-webhook-delivery-log")
