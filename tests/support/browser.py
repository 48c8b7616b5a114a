"""What the browser tests share: browser contexts with generous timeouts, screenshots, and
TOTP codes that are sure to be accepted.

The tests wait for conditions, never for time: Playwright's actions wait for their element, and
every check of what a page shows after an action is an ``expect(locator)...`` assertion, which
retries until it holds or its timeout passes. The timeouts are generous because the machine may
be loaded (a parallel run, other work): a slow page makes a test slower, not red."""

from __future__ import annotations

import time
from pathlib import Path

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
# Playwright's defaults (5 s for an expectation, 30 s for an action) are tuned for idle machines.
EXPECT_TIMEOUT_MS = 30_000
ACTION_TIMEOUT_MS = 60_000
# A code is accepted in its own 30 s step and the next (django-otp's default tolerance of 1);
# one computed in the last few seconds of a step is still worth at least 30 s.
TOTP_STEP = 30
TOTP_MARGIN = 5


def new_context(browser, **kwargs):
    """A browser context with the suite's viewport and generous action and navigation timeouts."""
    context = browser.new_context(viewport={"width": 1366, "height": 900}, **kwargs)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    context.set_default_navigation_timeout(ACTION_TIMEOUT_MS)
    return context


def shot(page, name: str) -> Path:
    """Save a full-page screenshot of ``page`` as ``test-artifacts/screenshots/<name>.png`` (each
    test writes its own names, so parallel workers never write the same file); returns its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def totp_code(key: bytes) -> str:
    """The 6-digit code an authenticator app shows now for ``key``. Near the end of a 30 s step it
    first waits for the next step to begin (at most ``TOTP_MARGIN`` s), so the code stays valid for
    at least a whole step however slowly the page submits it."""
    from django_otp.oath import totp

    left = TOTP_STEP - time.time() % TOTP_STEP
    if left < TOTP_MARGIN:
        time.sleep(left + 0.05)  # waiting for the clock itself: the condition is the new step
    return f"{totp(key, step=TOTP_STEP, t0=0, digits=6):06d}"
