"""Headless Chromium (Debian's package) driven by Playwright; never `playwright install`.
Waiting for conditions, generous timeouts: tests/support/browser.py."""

import os

import pytest
from playwright.sync_api import expect

from tests.support.browser import EXPECT_TIMEOUT_MS, new_context

CHROMIUM = os.environ.get("KEYTRAIL_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
expect.set_options(timeout=EXPECT_TIMEOUT_MS)


@pytest.fixture(scope="session")
def browser():
    # Playwright's sync API runs an event loop in this thread; Django's async-safety check
    # would then refuse the ORM calls our fixtures make.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A page that fails its test if the Content Security Policy blocked anything (an inline
    script or style, an eval, a request to another origin) — the CSP is part of what we test."""
    context = new_context(browser)
    page = context.new_page()
    violations: list[str] = []
    page.on("console", lambda msg: "Content Security Policy" in msg.text and violations.append(f"{page.url}: {msg.text}"))
    yield page
    context.close()
    assert not violations, f"CSP violations: {violations}"
