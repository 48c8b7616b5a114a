"""Signed-in test clients: Django's client by session, DRF's by a real API token."""

import datetime as dt

import pytest
from rest_framework.test import APIClient

from apps.api.services import token_issue


def issue(user, *, scope: str = "write", days: int = 7, name: str = "tests") -> str:
    """A real token for ``user`` (the plaintext), issued through the service."""
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=days)
    return token_issue(actor=user, name=name, scope=scope, expires_at=expires).plaintext


def bearer(plaintext: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    return client


@pytest.fixture
def api_as():
    """``api_as(user, scope="write")`` → an APIClient that authenticates with a fresh token of ``user``."""

    def make(user, scope: str = "write") -> APIClient:
        return bearer(issue(user, scope=scope, name=f"tests-{scope}-{dt.datetime.now().timestamp()}"))

    return make


def login(client, user):
    """``client`` signed in as ``user`` (no password round trip); returned for chaining."""
    client.force_login(user)
    return client
