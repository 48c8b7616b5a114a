"""The IAM connector's identity-control facts against moto's server over real HTTP: login
profiles of password users, IAM Identity Center (sso-admin ListInstances), roles trusted by
other accounts, console access counts; refusals and faults on the new calls.

moto writes a user's creation as ``password_last_changed`` and as its login profile's
``CreateDate``; keytrail's simulated cloud (apps/devtools/simulators/iam_extras.py) answers a
changed password and another profile date inside moto's server. Identity Center: moto creates
one instance per account and region, removed here through moto's backend for "not in use".
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from apps.connectors.aws.iam import IamConnector
from apps.connectors.aws.iam.identity import external_trust_roles
from apps.connectors.base import CollectionResult
from apps.devtools.simulators.iam_extras import set_login_profile_created, set_password_last_changed
from tests.support.aws import ACCOUNT_A
from tests.support.hostile import SHORT_TEXT

NOW = datetime.now(UTC)


def _password(result, user):
    return next(c for c in result.credentials if c.credential_type == "console_password" and c.identity_external_id.endswith(f"/{user}"))


@pytest.fixture
def people(iam, backend_a):
    iam.create_user(UserName="alice")
    iam.create_login_profile(UserName="alice", Password="Correct-Horse-9!", PasswordResetRequired=True)
    iam.create_user(UserName="bob")
    iam.create_login_profile(UserName="bob", Password="Correct-Horse-9!", PasswordResetRequired=False)
    iam.create_user(UserName="svc", Tags=[{"Key": "identity-type", "Value": "service"}])
    created = NOW - timedelta(days=40)
    for name in ("alice", "bob"):
        backend_a.get_user(name).create_date = created
    set_password_last_changed(ACCOUNT_A, "alice", NOW - timedelta(days=30))  # alice replaced hers
    backend_a.get_user("bob").password_last_used = NOW - timedelta(days=2)  # bob signs in with the initial one
    return iam


def test_login_profiles_give_reset_flag_and_creation(people, target_a):
    result = IamConnector().collect(target_a)
    alice, bob = _password(result, "alice"), _password(result, "bob")
    assert alice.attributes["password_reset_required"] is True and bob.attributes["password_reset_required"] is False
    assert alice.attributes["created_at_basis"] == "login_profile" == bob.attributes["created_at_basis"]
    assert round((alice.last_rotated_at - alice.created_at).total_seconds() / 86400) == 10  # changed after the profile was created
    assert abs((bob.last_rotated_at - bob.created_at).total_seconds()) < 1  # still the initial password
    assert result.api_calls["GetLoginProfile"] == 2  # the two password users, not the service user
    assert result.facts["collection"]["login_profiles_listed_for"] == 2
    assert not result.errors


def test_profile_creation_from_the_simulated_cloud(people, target_a):
    set_login_profile_created(ACCOUNT_A, "bob", NOW - timedelta(days=5))
    bob = _password(IamConnector().collect(target_a), "bob")
    assert (NOW - bob.created_at).days == 5


def test_repeat_collection_reuses_profiles_while_the_password_is_unchanged(people, target_a):
    first = IamConnector().collect(target_a)
    second = IamConnector().collect(target_a, previous_state=first.state)
    assert "GetLoginProfile" not in second.api_calls
    assert _password(second, "bob").attributes["password_reset_required"] is False
    set_password_last_changed(ACCOUNT_A, "bob", NOW - timedelta(hours=1))
    third = IamConnector().collect(target_a, previous_state=second.state)
    assert third.api_calls["GetLoginProfile"] == 1  # bob's password changed: asked again


def test_get_login_profile_refused_is_recorded_per_user_and_leaves_the_flag_unknown(people, fault_proxy, target_a):
    fault_proxy.inject("error", match="GetLoginProfile", times=None, status=403, code="AccessDenied", message="not authorized")
    result = IamConnector().collect(target_a)
    bob = _password(result, "bob")
    assert bob.attributes["password_reset_required"] is None
    assert bob.attributes["created_at_basis"] == "password_last_changed"
    assert {e["item"] for e in result.errors if e["code"] == "access_denied"} >= {
        f"arn:aws:iam::{ACCOUNT_A}:user/alice",
        f"arn:aws:iam::{ACCOUNT_A}:user/bob",
    }


def test_identity_center_in_use(people, target_a):
    result = IamConnector().collect(target_a)
    center = result.facts["identity_center"]
    assert center["status"] == "in_use" and center["instances"][0]["arn"].startswith("arn:aws:sso:::instance/")
    assert center["regions"] == ["us-east-1"]
    assert {c.attributes["identity_center"] for c in result.credentials if c.credential_type == "console_password"} == {"in_use"}


def test_identity_center_not_in_use(people, target_a, settings):
    from moto.ssoadmin.models import ssoadmin_backends

    settings.AWS_IDENTITY_CENTER_REGIONS = ["eu-west-1"]
    ssoadmin_backends[ACCOUNT_A]["eu-west-1"].instances.clear()
    result = IamConnector().collect(target_a)
    assert result.facts["identity_center"]["status"] == "not_in_use"
    assert result.facts["identity_center"]["regions"] == ["eu-west-1"]
    assert _password(result, "bob").attributes["identity_center"] == "not_in_use"


def test_identity_center_refused_is_unknown_never_not_in_use(people, fault_proxy, target_a):
    fault_proxy.inject("error", match="ListInstances", times=None, status=400, code="AccessDeniedException", message="no sso:ListInstances")
    result = IamConnector().collect(target_a)
    center = result.facts["identity_center"]
    assert center["status"] == "unknown" and "no sso:ListInstances" in center["error"]
    assert any(e["item"] == "identity_center:us-east-1" for e in result.errors)
    assert result.identities  # the rest of the account is collected


def test_identity_center_garbage_answer_is_unknown(people, fault_proxy, target_a):
    fault_proxy.inject("malformed", match="ListInstances", times=None)
    result = IamConnector().collect(target_a)
    assert result.facts["identity_center"]["status"] == "unknown"


TRUST = {
    "foreign-no-id": {"AWS": "arn:aws:iam::999999999999:root"},
    "foreign-bare-id": {"AWS": "888888888888"},
    "own-account": {"AWS": f"arn:aws:iam::{ACCOUNT_A}:root"},
    "service": {"Service": "lambda.amazonaws.com"},
}


def _role(iam, name, principal, condition=None):
    statement = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    if condition:
        statement["Condition"] = condition
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}))


def test_roles_trusted_by_other_accounts(iam, target_a):
    for name, principal in TRUST.items():
        _role(iam, name, principal)
    _role(iam, "foreign-with-id", {"AWS": ["arn:aws:iam::999999999999:role/vendor"]}, {"StringEquals": {"sts:ExternalId": "x-1"}})
    _role(iam, "foreign-if-exists", {"AWS": "999999999999"}, {"StringEqualsIfExists": {"sts:ExternalId": "x-1"}})
    _role(iam, "anyone", "*", {"StringEquals": {"sts:ExternalId": "x-1"}})

    trust = IamConnector().collect(target_a).facts["external_trust"]
    roles = {r["name"]: r for r in trust["roles"]}
    assert set(roles) == {"foreign-no-id", "foreign-bare-id", "foreign-with-id", "foreign-if-exists", "anyone"}
    assert {n for n, r in roles.items() if r["external_id_required"]} == {"foreign-with-id", "anyone"}
    assert roles["foreign-no-id"]["external_principals"] == ["arn:aws:iam::999999999999:root"]
    assert trust["roles_checked"] == 7 and trust["unreadable_count"] == 0


def test_unreadable_trust_policy_is_recorded():
    result = CollectionResult(target=None)  # type: ignore[arg-type]
    trust = external_trust_roles([{"RoleName": "r", "Arn": "arn:aws:iam::1:role/r", "AssumeRolePolicyDocument": "%%not json"}], "1", result)
    assert trust["unreadable"] == ["arn:aws:iam::1:role/r"] and result.errors[0]["code"] == "malformed_value"


@pytest.mark.hostile
@pytest.mark.parametrize("value", SHORT_TEXT.values(), ids=SHORT_TEXT.keys())
def test_hostile_role_principals_are_kept_as_text_and_cut(value):
    result = CollectionResult(target=None)  # type: ignore[arg-type]
    doc = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": [value, "arn:aws:iam::999999999999:root"]}, "Action": "sts:AssumeRole"}]}
    trust = external_trust_roles(
        [{"RoleName": value, "Arn": "arn:aws:iam::1:role/x", "AssumeRolePolicyDocument": doc}], "111111111111", result
    )
    role = trust["roles"][0]
    assert role["external_id_required"] is False and len(role["name"]) <= 256
    assert all(len(p) <= 256 for p in role["external_principals"])
    json.dumps(trust)


def test_console_access_counts(people, target_a):
    counts = IamConnector().collect(target_a).facts["console_access"]
    assert counts == {"human_users": 2, "with_console_password": 2, "password_state_unknown": 0}


def test_break_glass_hardware_mfa_and_keys_listed_flag(iam, backend_a, target_a):
    iam.create_user(UserName="bg", Tags=[{"Key": "break-glass", "Value": "true"}])
    iam.create_login_profile(UserName="bg", Password="Correct-Horse-9!")
    iam.enable_mfa_device(UserName="bg", SerialNumber="GAHT12345678", AuthenticationCode1="123456", AuthenticationCode2="654321")
    result = IamConnector().collect(target_a)
    bg = next(i for i in result.identities if i.name == "bg")
    assert bg.mfa_active is True and [d["type"] for d in bg.mfa_devices] == ["hardware"]
    assert bg.attributes["access_keys_listed"] is True and bg.tags == {"break-glass": "true"}


def test_secrets_manager_records_how_many_versions_a_secret_has(moto_url):
    import boto3

    from apps.connectors.aws.secrets_manager import SecretsManagerConnector
    from tests.support.aws import sm_target

    sm = boto3.client("secretsmanager", endpoint_url=moto_url, region_name="eu-west-1")
    sm.create_secret(Name="partner-api-key", SecretString="first")
    sm.create_secret(Name="replaced-api-key", SecretString="first")
    sm.put_secret_value(SecretId="replaced-api-key", SecretString="second")
    result = SecretsManagerConnector().collect(sm_target("eu-west-1"))
    versions = {c.name: c.attributes["version_count"] for c in result.credentials}
    assert versions["partner-api-key"] == 1 and versions["replaced-api-key"] >= 2
    assert "first" not in json.dumps([c.attributes for c in result.credentials])  # metadata only


@pytest.mark.parametrize("operation", ["GetLoginProfile", "ListInstances"])
def test_a_throttled_new_call_is_retried_and_nothing_is_lost(people, fault_proxy, target_a, operation):
    fault_proxy.fail(operation, "throttle", times=1)
    result = IamConnector().collect(target_a)
    assert fault_proxy.seen[operation] >= 2 and not result.errors
    assert result.facts["identity_center"]["status"] == "in_use"
    assert _password(result, "bob").attributes["password_reset_required"] is False


def test_identity_center_throttled_beyond_retries_fails_the_unit_as_retryable(people, fault_proxy, target_a):
    from apps.connectors.base import ConnectorError

    fault_proxy.fail("ListInstances", "throttle")
    with pytest.raises(ConnectorError) as caught:
        IamConnector().collect(target_a)
    assert caught.value.retryable is True  # the unit is retried whole: no account is recorded half-read


def test_console_access_and_identity_center_hold_across_stream_batches(people, target_a, monkeypatch):
    """The IAM stream hands users on in batches: the counts and each password's Identity Center
    state are taken over every batch, not over what is left in the last one."""
    from apps.connectors.aws.iam import connector as iam_connector

    monkeypatch.setattr(iam_connector, "STREAM_BATCH_RECORDS", 1)  # a batch per record
    result = IamConnector().open(target_a)
    batches = list(result.batches())
    assert len(batches) > 3
    passwords = [c for b in batches for c in b.credentials if c.credential_type == "console_password"]
    assert len(passwords) == 2 and {c.attributes["identity_center"] for c in passwords} == {"in_use"}
    assert result.facts["console_access"] == {"human_users": 2, "with_console_password": 2, "password_state_unknown": 0}


def test_a_multi_batch_stream_yields_exactly_the_records_facts_and_state_of_one_batch(people, target_a, monkeypatch):
    """Batching is invisible in what the IAM connector hands on: a batch per record gives the same
    identities, credentials (in the same order), facts, state and errors as one batch, first and
    repeat (state reused)."""
    from dataclasses import asdict

    from apps.connectors.aws.iam import connector as iam_connector

    people.create_access_key(UserName="alice")
    people.create_access_key(UserName="svc")
    people.create_access_key(UserName="svc")
    people.upload_ssh_public_key(UserName="bob", SSHPublicKeyBody=_ssh_key())

    def run(batch_records: int, previous_state=None):
        monkeypatch.setattr(iam_connector, "STREAM_BATCH_RECORDS", batch_records)
        result = IamConnector().open(target_a, previous_state=previous_state)
        batches = list(result.batches())
        identities = [asdict(i) for b in batches for i in b.identities]
        credentials = [asdict(c) for b in batches for c in b.credentials]
        return len(batches), *_timeless((identities, credentials, result.facts, result.state, result.errors))

    one = run(100_000)
    many = run(1)
    assert one[0] == 1 and many[0] > 3  # a batch per user, then the root
    assert len(one[2]) >= 6 and many[1:] == one[1:]
    repeat_one, repeat_many = run(100_000, previous_state=one[4]), run(1, previous_state=one[4])
    assert repeat_many[1:4] == repeat_one[1:4] and repeat_one[1:3] == one[1:3]


def _timeless(value):
    """``value`` without ``listed_at`` / ``at`` (when a run listed a user's SSH keys: differs between runs)."""
    if isinstance(value, dict):
        return {k: _timeless(v) for k, v in value.items() if k not in ("listed_at", "at")}
    if isinstance(value, (list, tuple)):
        return type(value)(_timeless(v) for v in value)
    return value


def _ssh_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    public = ed25519.Ed25519PrivateKey.generate().public_key()
    return public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
