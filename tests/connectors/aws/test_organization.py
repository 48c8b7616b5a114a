"""The AWS organisation discovery against moto's Organizations over HTTP: paging, accounts
joining, leaving and closing, include/exclude lists (typos too), throttling mid-page, a role
that cannot list, hostile names."""

from __future__ import annotations

import pytest

from apps.connectors.aws.organization import OrganizationConnector
from apps.connectors.base import ConnectorError, SourceConfig
from apps.connectors.registry import plan_units, validate_source_config
from apps.devtools.simulators.aws_organization import add_account, close_account, create_organization, remove_account
from tests.support.hostile import TEXT

MANAGEMENT_ROLE = "arn:aws:iam::123456789012:role/keytrail-org"


def _target(**settings):
    config = validate_source_config(
        SourceConfig(kind="aws_organization", role_arn=MANAGEMENT_ROLE, member_role_name="keytrail-reader", external_id="ext-1", **settings)
    )
    [target] = plan_units(config)
    return target


def _discover(target=None, previous=None):
    return OrganizationConnector().collect(target or _target(), previous_state=previous)


def _by_id(result):
    return {entry["id"]: entry for entry in result.facts["accounts"]}


@pytest.fixture
def org(moto_url):
    seed = create_organization(moto_url)
    for name in ("prod", "staging", "sandbox"):
        add_account(moto_url, seed, name)
    return seed


def test_every_active_account_becomes_a_member_with_the_member_role(org):
    result = _discover()
    members = {m.source_key: m for m in result.members}
    assert set(members) == set(org.accounts.values())  # the management account is a member too
    prod = members[org.accounts["prod"]]
    assert prod.name == "prod" and prod.config.kind == "aws_account"
    assert prod.config.role_arn == f"arn:aws:iam::{org.accounts['prod']}:role/keytrail-reader"
    assert prod.config.external_id == "ext-1" and prod.config.regions == ()
    assert result.facts["organization_id"] == org.organization_id and result.facts["management_account_id"] == "123456789012"
    assert {e["event"] for e in result.facts["accounts"]} == {"appeared"} and result.errors == []
    assert result.api_calls["ListAccounts"] == 1 and result.api_calls["AssumeRole"] == 1


def test_list_accounts_is_read_page_by_page(org, moto_url):
    for i in range(41):
        add_account(moto_url, org, f"member-{i:02d}")
    result = _discover()
    assert len(result.members) == 45
    assert result.api_calls["ListAccounts"] == 3  # 20 per page: the API's maximum


def test_an_account_joining_and_leaving_between_two_runs(org, moto_url):
    first = _discover()
    joined = add_account(moto_url, org, "new-team")
    left = org.accounts["sandbox"]
    remove_account(moto_url, org, left)

    second = _discover(previous=first.state)
    accounts = _by_id(second)
    assert accounts[joined]["event"] == "appeared" and accounts[org.accounts["prod"]]["event"] == ""
    assert second.facts["left"] == [{"id": left, "name": "sandbox"}]
    assert left not in {m.source_key for m in second.members} and joined in {m.source_key for m in second.members}


def test_a_closed_account_is_not_assessed_by_name(org, moto_url):
    first = _discover()
    close_account(moto_url, org.accounts["staging"])
    result = _discover(previous=first.state)
    staging = _by_id(result)[org.accounts["staging"]]
    assert staging["decision"] == "not_assessed" and staging["status"] == "SUSPENDED" and "suspended" in staging["reason"]
    assert staging["event"] == "status_changed" and staging["previous_status"] == "ACTIVE"
    assert org.accounts["staging"] not in {m.source_key for m in result.members}
    assert result.facts["not_assessed"] == [{"id": org.accounts["staging"], "name": "staging", "reason": staging["reason"]}]
    [error] = result.errors
    assert error["code"] == "account_not_assessed" and error["item"] == org.accounts["staging"] and "staging" in error["message"]


def test_include_and_exclude_by_account_and_by_ou(org, moto_url):
    in_ou = add_account(moto_url, org, "payments", ou="regulated")
    add_account(moto_url, org, "cards", ou="regulated")
    result = _discover(_target(include_ids=(org.ous["regulated"], org.accounts["prod"]), exclude_ids=(org.accounts["cards"],)))
    accounts = _by_id(result)
    assert {m.source_key for m in result.members} == {in_ou, org.accounts["prod"]}
    assert accounts[org.accounts["cards"]]["decision"] == "excluded"
    assert accounts[org.accounts["staging"]]["decision"] == "not_included"
    assert result.errors == [] and result.facts["not_assessed"] == []


def test_ids_that_are_not_in_the_organisation_are_never_silent(org):
    typo = "999999999999"
    result = _discover(_target(include_ids=(org.accounts["prod"], typo, "ou-zzzz-zzzzzzzz"), exclude_ids=("888888888888",)))
    assert {m.source_key for m in result.members} == {org.accounts["prod"]}
    assert _by_id(result)[typo]["decision"] == "not_assessed" and "typo" in _by_id(result)[typo]["reason"]
    assert typo in {a["id"] for a in result.facts["not_assessed"]}
    codes = {(e["code"], e["item"]) for e in result.errors}
    assert codes == {("unknown_account", typo), ("unknown_account", "888888888888"), ("unknown_ou", "ou-zzzz-zzzzzzzz")}


def test_throttling_mid_page_is_retried_and_counted(org, moto_url, fault_proxy):
    for i in range(25):
        add_account(moto_url, org, f"member-{i:02d}")
    fault_proxy.fail("ListAccounts", "throttle", times=1, after=1)  # the second page, once
    result = _discover()
    assert len(result.members) == 29
    assert fault_proxy.seen["ListAccounts"] == 3 and result.api_calls["ListAccounts"] == 3  # two pages + one retry


def test_throttling_beyond_retries_fails_the_discovery_retryably_with_nothing_half_listed(org, moto_url, fault_proxy):
    for i in range(25):
        add_account(moto_url, org, f"member-{i:02d}")
    fault_proxy.fail("ListAccounts", "throttle", after=1)  # every page after the first
    with pytest.raises(ConnectorError) as caught:
        _discover()
    assert caught.value.code == "throttled" and caught.value.retryable is True


def test_a_role_that_cannot_list_accounts_fails_the_discovery_by_name(org, fault_proxy):
    fault_proxy.inject("error", match="ListAccounts", times=None, status=400, code="AccessDeniedException", message="not allowed")
    with pytest.raises(ConnectorError) as caught:
        _discover()
    assert caught.value.code == "access_denied" and "aws_organization" in str(caught.value)


@pytest.mark.hostile
def test_hostile_account_names_are_kept_verbatim(org, moto_url):
    names = [TEXT[k] for k in ("formula_eq", "html_script", "html_attr", "sql_quote", "template_syntax", "rtl_override", "astral")]
    for name in names:
        add_account(moto_url, org, name)
    result = _discover()
    assert {m.name for m in result.members} >= set(names)
