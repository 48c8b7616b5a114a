"""Long actions on PostgreSQL with a real Celery worker (another process, Redis): the page
answers before any worker has taken the work, says so, disables the button, and follows the
progress by itself once a worker runs it."""

import pytest
from django.conf import settings
from playwright.sync_api import expect

from tests.support.browser import shot
from tests.support.evidence import world  # noqa: F401
from tests.support.worker import celery_broker, start_worker  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _login(page, url, username):
    page.goto(f"{url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw-for-tests-only")
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/")


def test_build_pack_and_evaluate_now_return_before_a_worker_runs_them(page, live_server, world, start_worker):
    engagement = world["engagement"]
    _login(page, live_server.url, "grc")

    # No worker yet: the build is queued, the page answers and says so.
    page.goto(f"{live_server.url}/evidence/{engagement.pk}/")
    page.fill("#id_sample_size", "3")
    page.click("button:has-text('Build pack')")
    page.wait_for_url("**/packs/*/")
    block = page.locator("#pack-progress")
    expect(block).to_contain_text("waiting for a worker")
    expect(block).to_have_attribute("hx-trigger", "every 2s")
    expect(page.locator(".messages")).to_contain_text("requested")
    pack_url = page.url
    shot(page, "async-pack-waiting")
    page.goto(f"{live_server.url}/evidence/{engagement.pk}/")
    expect(page.get_by_role("button", name="Build pack")).to_be_disabled()  # one build at a time
    expect(page.locator("main")).to_contain_text("is being built")

    # Evaluate now: queued too; the button is disabled while it waits.
    page.goto(f"{live_server.url}/posture/")
    page.click("button:has-text('Evaluate now')")
    page.wait_for_url(f"{live_server.url}/posture/")
    expect(page.locator("#evaluation-progress")).to_contain_text("waiting for a worker")
    expect(page.get_by_role("button", name="Evaluation running…")).to_be_disabled()
    home = page.context.new_page()
    home.goto(f"{live_server.url}/")
    expect(home.locator("#running")).to_contain_text("waiting for a worker")
    shot(home, "async-home-running")
    shot(page, "async-evaluation-queued")

    # A worker starts: the dashboard reloads itself when the evaluation ends, the pack's page fills in.
    start_worker({"KEYTRAIL_TEST_MEDIA_ROOT": str(settings.MEDIA_ROOT)}, concurrency=1)
    expect(page.locator("#evaluation-progress")).to_have_count(0, timeout=180_000)
    expect(page.get_by_role("button", name="Evaluate now")).to_be_enabled()
    page.goto(pack_url)
    expect(page.locator("#pack-progress .status-succeeded")).to_be_visible(timeout=180_000)
    expect(page.locator("#pack-progress[hx-trigger]")).to_have_count(0)
    assert "is being built" not in page.locator("main").inner_text()
    shot(page, "async-pack-built")
    expect(home.locator("#running")).to_have_count(0, timeout=60_000)  # the home page's block went by itself
    home.close()
