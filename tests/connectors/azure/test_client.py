"""The SecretClient factory: operation counting and the client-side refusal of value reads."""

from __future__ import annotations

from collections import Counter

import pytest
from azure.core.pipeline import PipelineContext, PipelineRequest
from azure.core.rest import HttpRequest

from apps.connectors.azure.client import (
    LIST_SECRET_VERSIONS,
    LIST_SECRETS,
    ApiCallPolicy,
    DisallowedOperation,
    operation_name,
    secret_client,
)
from apps.connectors.base import ConnectorError


@pytest.mark.parametrize(
    ("method", "url", "expected"),
    [
        ("GET", "https://v.vault.azure.net/secrets?api-version=7.4", LIST_SECRETS),
        ("GET", "https://v.vault.azure.net/secrets?api-version=7.4&$skiptoken=abc&maxresults=25", LIST_SECRETS),
        ("GET", "https://v.vault.azure.net/secrets/db/versions?api-version=7.4", LIST_SECRET_VERSIONS),
        ("GET", "https://v.vault.azure.net/secrets/db?api-version=7.4", "GET /secrets/db"),
        ("GET", "https://v.vault.azure.net/secrets/db/0123abcd", "GET /secrets/db/0123abcd"),
        ("PUT", "https://v.vault.azure.net/secrets/db", "PUT /secrets/db"),
        ("POST", "https://v.vault.azure.net/secrets/db/backup", "POST /secrets/db/backup"),
    ],
)
def test_operation_name(method, url, expected):
    assert operation_name(method, url) == expected


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.get_secret("db-password"),
        lambda c: c.get_secret("db-password", "0123456789abcdef0123456789abcdef"),
        lambda c: c.set_secret("db-password", "hunter2"),
        lambda c: c.backup_secret("db-password"),
        lambda c: c.get_deleted_secret("db-password"),
    ],
    ids=["get_secret", "get_secret_version", "set_secret", "backup_secret", "get_deleted_secret"],
)
def test_client_refuses_everything_but_listing_before_sending(vault, call):
    vault.add_secret("db-password")
    calls: Counter = Counter()

    with secret_client(vault.url, api_calls=calls) as (client, _policy):
        with pytest.raises(DisallowedOperation) as err:
            call(client)

    assert err.value.code == "disallowed_operation"
    assert vault.requests == []  # nothing left the process
    assert calls == Counter()


def test_client_counts_pages_not_attempts(vault):
    vault.seed(30, versions=2)
    vault.fail(times=1, status=503)
    calls: Counter = Counter()

    with secret_client(vault.url, api_calls=calls) as (client, _policy):
        names = [p.name for p in client.list_properties_of_secrets()]
        versions = list(client.list_properties_of_secret_versions(names[0]))

    assert len(names) == 30 and len(versions) == 2
    assert calls == Counter({LIST_SECRETS: 2, LIST_SECRET_VERSIONS: 1})
    # On the wire: challenge, one 503 retried, two list pages, one versions page.
    assert [r.status for r in vault.requests] == [401, 503, 200, 200, 200]


def _send_through(policy, url):
    policy.on_request(PipelineRequest(HttpRequest("GET", url), PipelineContext(None)))


def test_a_next_link_leading_back_to_a_read_page_stops_paging():
    policy = ApiCallPolicy(Counter())
    page_two = "https://v.vault.azure.net/secrets?api-version=7.5&$skiptoken=abc"
    _send_through(policy, "https://v.vault.azure.net/secrets?api-version=7.5")
    _send_through(policy, page_two)

    with pytest.raises(ConnectorError) as err:
        _send_through(policy, page_two)

    assert err.value.code == "malformed_response"
    assert policy.counter == Counter({LIST_SECRETS: 2})
