"""IamConnector against moto's server over real HTTP."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from moto.iam.models import AccessKeyLastUsed, IAMBackend

from apps.connectors.aws.iam import (
    IamConnector,
    ListedKey,
    ReportKey,
    document_grants_admin,
    identity_kind,
    match_keys,
    parse_credential_report,
    parse_report_bool,
    parse_report_datetime,
)
from apps.connectors.base import ConnectorError, Target
from apps.connectors.kinds import CredentialKind, IdentityKind
from apps.devtools.simulators.aws import iam_backend, seed_iam_users, seed_password_policy
from tests.support.aws import (
    ACCOUNT_A,
    ACCOUNT_B,
    ROLE_B,
    STAR,
    free_closed_port,
    post_moto_api,
    seed_iam_population,
)

NOW = datetime.now(UTC).replace(microsecond=0)
HOSTILE = {
    "formula": "=cmd|' /C calc'!A0",
    "plus": "+1",
    "at": "@SUM(1)",
    "html": "<script>alert(1)</script>",
    "long": "x" * 255 + "!",  # AWS's maximum tag value length is 256
    "rtl": "\u202egnp.exe",
    "zwsp": "a\u200bb",
}


def arn(name: str, account: str = ACCOUNT_A) -> str:
    return f"arn:aws:iam::{account}:user/{name}"


def by_id(records):
    return {record.external_id: record for record in records}


@pytest.fixture
def population(iam, backend_a):
    return seed_iam_population(iam, backend_a, NOW)


def collect(target, previous_state=None):
    return IamConnector().collect(target, previous_state=previous_state)


# --- what one collection returns -----------------------------------------------------


def test_users_keys_passwords_and_mfa(population, target_a):
    result = collect(target_a)

    assert result.errors == []
    identities = by_id(result.identities)
    assert set(identities) == {arn(n) for n in ("alice", "bob", "ci-bot", "svc-old", "iam-admin", "nokeys")} | {
        f"arn:aws:iam::{ACCOUNT_A}:root"
    }

    alice = identities[arn("alice")]
    assert alice.kind == IdentityKind.HUMAN and alice.attributes["kind_basis"] == "tag:identity-type"
    assert alice.mfa_active is True
    assert alice.mfa_devices[0]["type"] == "virtual"
    assert alice.mfa_devices[0]["serial"] == f"arn:aws:iam::{ACCOUNT_A}:mfa/alice"
    assert "Base32StringSeed" not in json.dumps(alice.mfa_devices)  # moto returns the seed; we drop it
    assert alice.created_at == NOW - timedelta(days=800)
    assert alice.groups == ["admins"]
    assert alice.tags == {"identity-type": "human", "owner": "alice@example.com"}

    bob = identities[arn("bob")]
    assert bob.kind == IdentityKind.HUMAN and bob.attributes["kind_basis"] == "console_password"
    assert bob.mfa_active is False and bob.mfa_devices == []
    assert identities[arn("ci-bot")].kind == IdentityKind.SERVICE
    assert identities[arn("ci-bot")].attributes["kind_basis"] == "tag:identity-type"
    assert identities[arn("svc-old")].attributes["kind_basis"] == "no_console_password"

    keys = [c for c in result.credentials if c.credential_type == CredentialKind.ACCESS_KEY]
    assert len(keys) == 5  # alice 2, ci-bot 1, svc-old 2
    alice_keys = sorted((c for c in keys if c.identity_external_id == arn("alice")), key=lambda c: c.attributes["slot"])
    active, inactive = alice_keys
    assert active.enabled is True and inactive.enabled is False
    assert active.external_id == population.users["alice"].access_keys[0].access_key_id
    assert active.created_at == NOW - timedelta(days=200)
    assert active.last_used_at == NOW - timedelta(days=1)
    assert active.attributes["slot_match"] == "create_date"
    assert inactive.last_used_at is None and inactive.attributes["last_used_status"] == "none_recorded"
    assert inactive.attributes["slot"] == 2 and inactive.created_at == NOW - timedelta(days=20)
    ci_key = next(c for c in keys if c.identity_external_id == arn("ci-bot"))
    assert ci_key.last_used_at is None and ci_key.enabled is True

    old_keys = sorted((c for c in keys if c.identity_external_id == arn("svc-old")), key=lambda c: c.created_at)
    assert [k.created_at for k in old_keys] == [NOW - timedelta(days=400), NOW - timedelta(days=10)]
    assert old_keys[0].last_used_at == NOW - timedelta(days=100)

    passwords = by_id(c for c in result.credentials if c.credential_type == CredentialKind.CONSOLE_PASSWORD)
    assert set(passwords) == {f"{arn('alice')}#console-password", f"{arn('bob')}#console-password"}
    alice_pw = passwords[f"{arn('alice')}#console-password"]
    assert alice_pw.enabled is True
    assert alice_pw.last_used_at == NOW - timedelta(days=3)
    # moto reports password_last_changed as the user's creation time.
    assert alice_pw.last_rotated_at == alice_pw.created_at == NOW - timedelta(days=800)
    assert alice_pw.attributes["password_next_rotation"] is None  # moto: not_supported
    # bob's password was never used: moto writes "no_information".
    assert passwords[f"{arn('bob')}#console-password"].last_used_at is None

    assert result.facts["account_id"] == ACCOUNT_A
    assert result.facts["credential_report_generated_at"] == datetime(2015, 2, 2, 20, 2, 2, tzinfo=UTC)  # moto's fixed date
    assert result.api_calls["ListAccessKeys"] == 3  # only users whose row shows a key
    assert result.api_calls["AssumeRole"] == 1


def test_privileged_rule(population, target_a):
    identities = by_id(collect(target_a).identities)

    assert identities[arn("alice")].privileged is True
    assert identities[arn("alice")].attributes["privileged_basis"] == ["group:admins:managed:AdministratorAccess"]
    assert identities[arn("svc-old")].privileged is True
    assert identities[arn("svc-old")].attributes["privileged_basis"] == ["group:wildcards:inline:everything"]
    assert identities[arn("iam-admin")].privileged is True
    assert identities[arn("ci-bot")].privileged is False
    assert identities[arn("bob")].privileged is False
    assert "group:admins:arn:aws:iam::aws:policy/AdministratorAccess" in identities[arn("alice")].policies
    assert identities[arn("ci-bot")].policies == ["inline:read"]


def test_customer_managed_star_policy_is_privileged(iam, target_a):
    policy = iam.create_policy(PolicyName="break-glass", PolicyDocument=STAR)["Policy"]
    iam.create_user(UserName="carol")
    iam.attach_user_policy(UserName="carol", PolicyArn=policy["Arn"])

    carol = by_id(collect(target_a).identities)[arn("carol")]

    assert carol.privileged is True
    assert carol.attributes["privileged_basis"] == [f"managed:{policy['Arn']}"]


def test_password_policy_absent_then_present(iam, target_a):
    iam.create_user(UserName="someone")
    absent = collect(target_a)
    assert absent.facts["password_policy"] is None
    assert absent.facts["password_policy_status"] == "absent"
    assert absent.errors == []

    seed_password_policy(ACCOUNT_A, minimum_password_length=16)
    present = collect(target_a).facts
    assert present["password_policy_status"] == "present"
    assert present["password_policy"]["MinimumPasswordLength"] == 16
    assert present["password_policy"]["MaxPasswordAge"] == 90


def test_root_from_account_summary(backend_a, target_a):
    # moto's report has no <root_account> row, so the summary answers for root.
    backend_a.account_summary._account_mfa_enabled = 1
    backend_a.account_summary._account_access_keys_present = 1

    result = collect(target_a)

    root = by_id(result.identities)[f"arn:aws:iam::{ACCOUNT_A}:root"]
    assert root.kind == IdentityKind.ROOT and root.privileged is True
    assert root.mfa_active is True and root.attributes["mfa_basis"] == "account_summary"
    assert result.facts["root"] == {"mfa_active": True, "access_keys_present": True}
    root_keys = [c for c in result.credentials if c.credential_type == CredentialKind.ROOT_ACCESS_KEY]
    assert [k.external_id for k in root_keys] == [f"{ACCOUNT_A}#root-key-1"]
    assert root_keys[0].attributes["basis"] == "account_summary"


def test_root_without_mfa_or_keys(target_a):
    result = collect(target_a)
    assert result.facts["root"] == {"mfa_active": False, "access_keys_present": False}
    assert not [c for c in result.credentials if c.credential_type == CredentialKind.ROOT_ACCESS_KEY]


ROOT_ROW = (
    f"<root_account>,arn:aws:iam::{ACCOUNT_A}:root,2015-01-01T00:00:00Z,not_supported,2024-05-01T10:00:00Z,"
    "not_supported,not_supported,true,true,2019-03-04T05:06:07Z,2024-04-30T23:59:59.000Z,us-east-1,s3,"
    "false,2020-01-01T00:00:00+00:00,N/A,N/A,N/A,false,N/A,false,N/A\n"
)
ODD_ROW = (
    f"odd,arn:aws:iam::{ACCOUNT_A}:user/odd,2020-02-02 10:00:00+00:00,true,no_information,2021-03-03T00:00:00Z,"
    "2021-06-01T00:00:00Z,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n"
)
BROKEN_ROW = (
    f"broken,arn:aws:iam::{ACCOUNT_A}:user/broken,last tuesday,maybe,N/A,N/A,N/A,false,false,N/A,N/A,N/A,N/A,"
    "false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n"
)


@pytest.fixture
def report_rows(monkeypatch):
    """Serve extra credential-report rows the way real AWS writes them (moto has no root row)."""
    original = IAMBackend.get_credential_report
    extra: list[str] = []

    def with_extra_rows(self):
        # An injected row replaces moto's row for the same ARN.
        header, _, body = original(self).partition("\n")
        replaced = {row.split(",")[1] for row in extra}
        kept = [line + "\n" for line in body.splitlines() if line.split(",")[1] not in replaced]
        return header + "\n" + "".join(extra) + "".join(kept)

    monkeypatch.setattr(IAMBackend, "get_credential_report", with_extra_rows)
    return extra


def test_root_row_and_sentinels(report_rows, iam, target_a):
    report_rows += [ROOT_ROW, ODD_ROW, BROKEN_ROW]
    iam.create_user(UserName="odd")
    iam.create_user(UserName="broken")

    result = collect(target_a)

    identities = by_id(result.identities)
    root = identities[f"arn:aws:iam::{ACCOUNT_A}:root"]
    assert root.mfa_active is True and root.attributes["mfa_basis"] == "credential_report"
    assert root.created_at == datetime(2015, 1, 1, tzinfo=UTC)
    assert root.attributes["password_last_used"] == "2024-05-01T10:00:00+00:00"
    root_keys = by_id(c for c in result.credentials if c.credential_type == CredentialKind.ROOT_ACCESS_KEY)
    assert set(root_keys) == {f"{ACCOUNT_A}#root-key-1", f"{ACCOUNT_A}#root-key-2"}
    key1, key2 = root_keys[f"{ACCOUNT_A}#root-key-1"], root_keys[f"{ACCOUNT_A}#root-key-2"]
    assert key1.enabled is True and key1.created_at == datetime(2019, 3, 4, 5, 6, 7, tzinfo=UTC)
    assert key1.last_used_at == datetime(2024, 4, 30, 23, 59, 59, tzinfo=UTC)
    assert key1.attributes["last_used_service"] == "s3" and key1.attributes["last_used_region"] == "us-east-1"
    assert key2.enabled is False and key2.last_used_at is None and key2.attributes["last_used_region"] is None
    assert result.facts["root"] == {"mfa_active": True, "access_keys_present": True}

    # Every sentinel parses to None and the space-separated date is accepted.
    password = by_id(result.credentials).get(f"{arn('odd')}#console-password")
    assert password is not None
    assert password.last_used_at is None
    assert password.last_rotated_at == datetime(2021, 3, 3, tzinfo=UTC)
    assert password.attributes["password_next_rotation"] == "2021-06-01T00:00:00+00:00"

    # A row with unparseable cells is recorded, not fatal, and the user is still there.
    problems = [e for e in result.errors if e["item"] == arn("broken")]
    assert problems and problems[0]["code"] == "malformed_value"
    assert "user_creation_time='last tuesday'" in problems[0]["message"]
    assert "password_enabled='maybe'" in problems[0]["message"]
    assert arn("broken") in identities


def test_report_parsing_helpers():
    assert parse_report_datetime("2014-09-01T22:28:48+00:00") == datetime(2014, 9, 1, 22, 28, 48, tzinfo=UTC)
    assert parse_report_datetime("2014-09-01T22:28:48Z") == datetime(2014, 9, 1, 22, 28, 48, tzinfo=UTC)
    assert parse_report_datetime("2014-09-01T22:28:48.250Z").microsecond == 250000
    assert parse_report_datetime("2014-09-01T23:28:48+01:00") == datetime(2014, 9, 1, 22, 28, 48, tzinfo=UTC)
    assert parse_report_datetime("2014-09-01") == datetime(2014, 9, 1, tzinfo=UTC)
    for sentinel in ("N/A", "not_supported", "no_information", "", None, "n/a"):
        assert parse_report_datetime(sentinel) is None
        assert parse_report_bool(sentinel) is None
    with pytest.raises(ValueError):
        parse_report_datetime("yesterday")
    assert parse_report_bool("TRUE") is True and parse_report_bool("false") is False
    with pytest.raises(ValueError):
        parse_report_bool("yes")
    with pytest.raises(ConnectorError) as missing:
        parse_credential_report(b"user,arn\nx,y\n")
    assert missing.value.code == "malformed_response"
    with pytest.raises(ConnectorError):
        parse_credential_report(b"\xff\xfe not utf-8")


def test_match_keys_by_creation_time_then_order():
    t1, t2 = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 6, 1, tzinfo=UTC)
    listed = [ListedKey("AKIA2", "Active", t2.replace(microsecond=123)), ListedKey("AKIA1", "Inactive", t1)]
    slots = [ReportKey(1, False, t1, None, None, None), ReportKey(2, True, t2, t2, "eu-west-1", "s3")]
    pairs = {key.access_key_id: (slot.slot if slot else None, basis) for key, slot, basis in match_keys(listed, slots)}
    assert pairs == {"AKIA1": (1, "create_date"), "AKIA2": (2, "create_date")}

    # Same second (moto creates both in one second): paired in creation order.
    same = [ListedKey("B", "Active", t1.replace(microsecond=9)), ListedKey("A", "Active", t1.replace(microsecond=1))]
    tied = [ReportKey(1, True, t1, None, None, None), ReportKey(2, True, t1, None, None, None)]
    assert [(k.access_key_id, s.slot) for k, s, _ in match_keys(same, tied)] == [("A", 1), ("B", 2)]

    # A key newer than the report has no slot.
    extra = match_keys([ListedKey("NEW", "Active", t2)], [])
    assert extra[0][1] is None and extra[0][2] == "not_in_report"


def test_privileged_document_rule():
    assert document_grants_admin({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}})
    assert document_grants_admin({"Statement": [{"Effect": "Allow", "Action": ["IAM:*"], "Resource": ["*"]}]})
    assert document_grants_admin({"Statement": [{"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}]})
    assert not document_grants_admin({"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]})
    assert not document_grants_admin({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::b/*"}]})
    assert not document_grants_admin({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})


def test_identity_kind_rule():
    assert identity_kind({"Type": "Service"}, True) == (IdentityKind.SERVICE, "tag:type")
    assert identity_kind({"identity-type": "human"}, False) == (IdentityKind.HUMAN, "tag:identity-type")
    assert identity_kind({"identity-type": "robot?"}, True) == (IdentityKind.HUMAN, "console_password")
    assert identity_kind({}, False) == (IdentityKind.SERVICE, "no_console_password")


def test_hostile_tag_values_are_kept_verbatim(iam, target_a):
    iam.create_user(UserName="mallory", Tags=[{"Key": key, "Value": value} for key, value in HOSTILE.items()])

    mallory = by_id(collect(target_a).identities)[arn("mallory")]

    assert mallory.tags == HOSTILE
    assert len(mallory.tags["long"]) == 256


# --- accounts and roles --------------------------------------------------------------


def test_second_account_through_assume_role(iam, target_a):
    iam.create_user(UserName="only-in-a")
    backend_b = iam_backend(ACCOUNT_B)
    backend_b.create_user("us-east-1", "only-in-b", "/", [{"Key": "owner", "Value": "b@example.com"}])
    backend_b.create_access_key("only-in-b")

    result_b = collect(Target(kind="aws_iam", source_key=ACCOUNT_B, role_arn=ROLE_B, external_id="ext-b"))
    result_a = collect(target_a)

    assert {i.external_id for i in result_b.identities} == {arn("only-in-b", ACCOUNT_B), f"arn:aws:iam::{ACCOUNT_B}:root"}
    assert result_b.facts["account_id"] == ACCOUNT_B
    assert [c.identity_external_id for c in result_b.credentials] == [arn("only-in-b", ACCOUNT_B)]
    assert arn("only-in-a") in {i.external_id for i in result_a.identities}
    assert arn("only-in-b", ACCOUNT_B) not in {i.external_id for i in result_a.identities}


def test_role_that_cannot_be_assumed(backend_a, monkeypatch, moto_url, target_a):
    # moto does not check roles or trust policies, but with its IAM enforcement on it
    # does check the caller's own policy: the collector may assume one role only.
    backend_a.create_user("us-east-1", "collector", "/", [])
    backend_a.put_user_policy(
        "collector",
        "assume-one-role",
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": f"arn:aws:iam::{ACCOUNT_A}:role/some-other-role"}
                ],
            }
        ),
    )
    key = backend_a.create_access_key("collector")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key.secret_access_key)
    post_moto_api(moto_url, "/moto-api/reset-auth", "0")
    try:
        with pytest.raises(ConnectorError) as caught:
            collect(target_a)
    finally:
        post_moto_api(moto_url, "/moto-api/reset-auth", "inf")

    assert caught.value.code == "assume_role_failed"
    assert caught.value.retryable is False
    assert "AccessDenied" in str(caught.value)


@pytest.mark.parametrize(
    "role_arn",
    ["arn:aws:iam::123456789012:user/not-a-role", "arn:aws:iam::222222222222:role/wrong-account", "keytrail"],
)
def test_bad_role_arn_is_refused_before_any_call(role_arn):
    connector = IamConnector()
    with pytest.raises(ConnectorError) as caught:
        connector.collect(Target(kind="aws_iam", source_key=ACCOUNT_A, role_arn=role_arn))
    assert caught.value.code == "assume_role_failed"


# --- repeat collection ---------------------------------------------------------------


def test_repeat_collection_of_unchanged_account_lists_no_keys(population, target_a):
    first = collect(target_a)
    second = collect(target_a, previous_state=first.state)

    assert first.api_calls["ListAccessKeys"] == 3
    assert second.api_calls["ListAccessKeys"] == 0
    assert second.facts["collection"]["access_keys_reused_for"] == 3
    assert sorted((c.external_id, c.enabled, c.created_at, c.last_used_at) for c in second.credentials) == sorted(
        (c.external_id, c.enabled, c.created_at, c.last_used_at) for c in first.credentials
    )
    json.dumps(second.state)  # the state is stored as JSON


def test_repeat_collection_relists_only_the_changed_user(population, iam, target_a):
    first = collect(target_a)
    new_key = iam.create_access_key(UserName="ci-bot")["AccessKey"]["AccessKeyId"]

    second = collect(target_a, previous_state=first.state)

    assert second.api_calls["ListAccessKeys"] == 1
    assert new_key in {c.external_id for c in second.credentials}


def test_key_use_alone_needs_no_relisting(population, target_a):
    first = collect(target_a)
    used_at = NOW - timedelta(hours=2)
    population.users["ci-bot"].access_keys[0].last_used = AccessKeyLastUsed(used_at, "s3", "eu-west-1")

    second = collect(target_a, previous_state=first.state)

    assert second.api_calls["ListAccessKeys"] == 0
    ci_key = next(c for c in second.credentials if c.identity_external_id == arn("ci-bot"))
    assert ci_key.last_used_at == used_at


def test_deactivated_key_is_relisted(population, iam, target_a):
    first = collect(target_a)
    key_id = population.users["svc-old"].access_keys[0].access_key_id
    iam.update_access_key(UserName="svc-old", AccessKeyId=key_id, Status="Inactive")

    second = collect(target_a, previous_state=first.state)

    assert second.api_calls["ListAccessKeys"] == 1
    assert by_id(second.credentials)[key_id].enabled is False


def test_stale_or_foreign_state_is_ignored(population, target_a):
    result = collect(target_a, previous_state={"version": 999, "users": {"x": 1}})
    assert result.api_calls["ListAccessKeys"] == 3
    result = collect(target_a, previous_state={"version": 1, "users": {arn("alice"): {"digest": "nope"}}})
    assert result.api_calls["ListAccessKeys"] == 3


def test_seeded_population_matches_the_simulator(target_a):
    summary = seed_iam_users(ACCOUNT_A, 150, seed=11)

    result = collect(target_a)

    assert result.errors == []
    users = [i for i in result.identities if i.kind != IdentityKind.ROOT]
    assert len(users) == summary.users
    keys = [c for c in result.credentials if c.credential_type == CredentialKind.ACCESS_KEY]
    assert len(keys) == summary.keys
    assert sum(not k.enabled for k in keys) == summary.inactive_keys
    assert sum(k.last_used_at is None for k in keys) == summary.never_used_keys
    assert sum(bool(i.mfa_active) for i in users) == summary.mfa_users
    passwords = [c for c in result.credentials if c.credential_type == CredentialKind.CONSOLE_PASSWORD]
    assert len(passwords) == summary.console_users
    assert sum(bool(i.privileged) for i in users) == summary.admins
    assert result.api_calls["ListAccessKeys"] == len({k.identity_external_id for k in keys})


# --- failures ------------------------------------------------------------------------


def test_one_user_failing_is_recorded_and_the_rest_collected(population, fault_proxy, target_a):
    fault_proxy.fail("ListAccessKeys", "nosuchentity", times=1)

    result = collect(target_a)

    assert len(result.errors) == 1 and result.errors[0]["code"] == "aws_error"
    failed = result.errors[0]["item"]
    assert failed in {arn("alice"), arn("ci-bot"), arn("svc-old")}
    owners = {c.identity_external_id for c in result.credentials if c.credential_type == CredentialKind.ACCESS_KEY}
    assert owners == {arn("alice"), arn("ci-bot"), arn("svc-old")} - {failed}
    assert failed not in result.state["users"]  # asked again next time


def test_throttling_is_retried_then_succeeds(population, fault_proxy, target_a):
    fault_proxy.fail("GetAccountAuthorizationDetails", "throttle", times=2)

    result = collect(target_a)

    assert result.errors == []
    # 2 throttled + 1 for users, groups, policies and roles
    assert fault_proxy.seen["GetAccountAuthorizationDetails"] == 3
    assert result.api_calls["GetAccountAuthorizationDetails"] == 3  # retries count as calls


def test_throttling_beyond_retries_is_a_retryable_error(fault_proxy, target_a):
    fault_proxy.fail("GetAccountAuthorizationDetails", "throttle")

    with pytest.raises(ConnectorError) as caught:
        collect(target_a)

    assert caught.value.code == "throttled" and caught.value.retryable is True
    assert fault_proxy.seen["GetAccountAuthorizationDetails"] == 3  # settings.AWS_MAX_ATTEMPTS
    assert "Throttling" in str(caught.value)


def test_server_errors_beyond_retries(fault_proxy, target_a):
    fault_proxy.fail("GenerateCredentialReport", "error500")

    with pytest.raises(ConnectorError) as caught:
        collect(target_a)

    assert caught.value.code == "service_unavailable" and caught.value.retryable is True
    assert fault_proxy.seen["GenerateCredentialReport"] == 3


def test_malformed_response(fault_proxy, target_a):
    fault_proxy.fail("GetAccountAuthorizationDetails", "garbage")

    with pytest.raises(ConnectorError) as caught:
        collect(target_a)

    assert caught.value.code == "malformed_response"


def test_throttled_assume_role_stays_retryable(fault_proxy, target_a):
    fault_proxy.fail("AssumeRole", "throttle")
    with pytest.raises(ConnectorError) as caught:
        collect(target_a)
    assert caught.value.code == "throttled" and caught.value.retryable is True


def test_unreachable_endpoint_fails_fast(settings, target_a):
    settings.AWS_ENDPOINT_URL = f"http://127.0.0.1:{free_closed_port()}"
    settings.AWS_MAX_ATTEMPTS = 1

    started = time.monotonic()
    with pytest.raises(ConnectorError) as caught:
        collect(target_a)

    assert caught.value.code == "unreachable" and caught.value.retryable is True
    assert time.monotonic() - started < 5


def test_only_expected_operations_are_called(population, fault_proxy, target_a):
    collect(target_a)
    assert set(fault_proxy.seen) <= {
        "AssumeRole",
        "GenerateCredentialReport",
        "GetCredentialReport",
        "GetAccountAuthorizationDetails",
        "ListVirtualMFADevices",
        "GetAccountPasswordPolicy",
        "GetAccountSummary",
        "ListAccessKeys",
        # the other credential kinds: no account-wide call lists them (test_iam_kinds.py)
        "ListServerCertificates",
        "ListSSHPublicKeys",
        "ListServiceSpecificCredentials",
        "ListSigningCertificates",
        "GetLoginProfile",  # users with a console password: reset flag (identity controls)
        "ListInstances",  # sso-admin: Identity Center in use
        # the account's trails (9.2.4.18): the population has none, so no per-trail calls
        "DescribeTrails",
    }


def test_the_report_is_read_line_by_line_as_a_stringio_would_split_it():
    """The report is parsed from its text line by line (no StringIO copy of it): quoted cells
    across lines, CRLF line ends and a last line without one give the rows a StringIO gives."""
    import csv
    import io

    from apps.connectors.aws.iam.report import report_lines

    text = 'user,arn\r\nalice,"arn:aws:iam::1:user/a\nb"\r\nbob,arn:aws:iam::1:user/bob\n\ncarol,"x,""y"""'
    assert list(report_lines(text)) == list(io.StringIO(text))
    assert list(csv.DictReader(report_lines(text))) == list(csv.DictReader(io.StringIO(text)))
    assert list(report_lines("")) == []
