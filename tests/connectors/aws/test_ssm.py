"""ParameterStoreConnector against moto's server over real HTTP: paging, what is kept, policies,
tags (hostile ones too), per-item errors, and never a value."""

from __future__ import annotations

import json

import boto3
import pytest

from apps.connectors.aws.ssm import ParameterStoreConnector, parse_policies, secret_name_match
from apps.connectors.base import ConnectorError, Target, as_jsonable
from apps.devtools.simulators.more_kinds import ssm_backend
from tests.support.aws import ACCOUNT_A, ROLE_A

VALUE = "KEYTRAIL-CANARY-parameter-value-never-read"
HOSTILE = {
    "formula": "=cmd|' /C calc'!A0",
    "plus": "+1",
    "html": "<script>alert(1)</script>",
    "rtl": "\u202egnp.exe",
    "zwsp": "a\u200bb",
    "long": "y" * 256,
}


def ssm_target(region: str = "eu-west-1") -> Target:
    return Target(kind="aws_ssm", source_key=ACCOUNT_A, role_arn=ROLE_A, region=region)


@pytest.fixture
def ssm(moto_url):
    return boto3.client("ssm", endpoint_url=moto_url, region_name="eu-west-1")


def by_name(result):
    return {c.name: c for c in result.credentials}


def test_every_page_of_describe_parameters_is_read(ssm):
    for i in range(57):
        ssm.put_parameter(Name=f"/app/secret-{i:03d}", Value=VALUE, Type="SecureString")
    result = ParameterStoreConnector().collect(ssm_target())
    assert len(result.credentials) == 57 and len({c.external_id for c in result.credentials}) == 57
    # moto's server answers at most 10 a page whatever MaxResults says, so this is 6 pages.
    assert result.api_calls["DescribeParameters"] == 6
    assert result.api_calls["ListTagsForResource"] == 57
    assert not result.errors


def test_securestring_metadata_and_policies_are_kept_and_no_value_is_read(ssm):
    expiry = "2027-03-01T00:00:00.000Z"
    ssm.put_parameter(
        Name="/prod/payments/partner-token",
        Value=VALUE,
        Type="SecureString",
        KeyId="alias/payments",
        Tier="Advanced",
        Policies=json.dumps(
            [
                {"Type": "Expiration", "Version": "1.0", "Attributes": {"Timestamp": expiry}},
                {"Type": "NoChangeNotification", "Version": "1.0", "Attributes": {"After": "30", "Unit": "Days"}},
            ]
        ),
        Tags=[{"Key": "owner", "Value": "payments@example.com"}],
    )
    result = ParameterStoreConnector().collect(ssm_target())
    (c,) = result.credentials
    assert c.credential_type == "ssm_secure_string"
    assert c.external_id == f"arn:aws:ssm:eu-west-1:{ACCOUNT_A}:parameter/prod/payments/partner-token"
    assert c.expires_at.isoformat() == "2027-03-01T00:00:00+00:00"
    assert c.last_rotated_at is not None and c.last_rotated_at == c.last_changed_at
    assert c.tags == {"owner": "payments@example.com"}
    a = c.attributes
    assert (a["tier"], a["kms_key_id"], a["version"], a["region"]) == ("Advanced", "alias/payments", 1, "eu-west-1")
    assert a["last_modified_user"] is None  # moto answers "N/A", as AWS does for some writers
    assert [p["type"] for p in a["policies"]] == ["Expiration", "NoChangeNotification"]
    assert a["no_change_notification"] == {"After": "30", "Unit": "Days"}
    assert a["expiration_policy"] is True and a["policy_errors"] == []
    assert VALUE not in json.dumps(as_jsonable(result))
    assert set(result.api_calls) == {"AssumeRole", "DescribeParameters", "ListTagsForResource"}


def test_plaintext_parameters_are_kept_only_when_their_names_look_like_secrets(ssm):
    ssm.put_parameter(Name="/legacy/smtp_password", Value=VALUE, Type="String")
    ssm.put_parameter(Name="STRIPE_API_KEY", Value=VALUE, Type="StringList")
    ssm.put_parameter(Name="/web/colour-scheme", Value="blue", Type="String")
    ssm.put_parameter(Name="/web/bypass-list", Value="a,b", Type="StringList")  # "pass" alone is not a secret word
    result = ParameterStoreConnector().collect(ssm_target())
    found = by_name(result)
    assert set(found) == {"/legacy/smtp_password", "STRIPE_API_KEY"}
    assert found["/legacy/smtp_password"].attributes["secret_name_match"] == "password"
    assert found["STRIPE_API_KEY"].attributes["parameter_type"] == "StringList"
    assert {c.credential_type for c in result.credentials} == {"ssm_plaintext"}
    assert result.facts["plaintext_other"] == 2 and result.facts["parameters"] == 4
    assert VALUE not in json.dumps(as_jsonable(result))


def test_a_malformed_policy_is_a_clear_per_item_error_and_the_parameter_is_kept(ssm):
    ssm.put_parameter(Name="/app/broken", Value=VALUE, Type="SecureString", Tier="Advanced")
    ssm.put_parameter(Name="/app/fine", Value=VALUE, Type="SecureString")
    # AWS validates policies on write; what a collector must survive is an answer it cannot
    # parse, so the stored policy text is made malformed in moto's backend.
    ssm_backend(ACCOUNT_A, "eu-west-1").get_parameter("/app/broken").policies = json.dumps(['{"Type": "Expiration", "Attri'])
    result = ParameterStoreConnector().collect(ssm_target())
    found = by_name(result)
    assert set(found) == {"/app/broken", "/app/fine"}
    (error,) = result.errors
    assert error["code"] == "malformed_policy" and error["item"] == "/app/broken"
    assert "policy 1 is not valid JSON" in error["message"]
    assert found["/app/broken"].attributes["policy_errors"] and found["/app/broken"].expires_at is None
    assert found["/app/fine"].attributes["policy_errors"] == []


def test_parse_policies_names_each_problem():
    parsed, problems = parse_policies(
        [
            {"PolicyText": '{"Type": "Expiration", "Attributes": {"Timestamp": "2027-01-01T00:00:00Z"}}', "PolicyStatus": "Pending"},
            {"PolicyText": "[1, 2]"},
            {"PolicyText": "{nope"},
            "not a dict",
        ]
    )
    assert parsed == [{"type": "Expiration", "status": "Pending", "attributes": {"Timestamp": "2027-01-01T00:00:00Z"}}]
    assert [p.split(" ")[1] for p in problems] == ["2", "3", "4"]
    assert parse_policies("garbage")[1] == ["Policies is not a list: 'garbage'"]


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("/prod/db/password", "password"),
        ("GITHUB_TOKEN", "TOKEN"),
        ("/x/api-key", "api-key"),
        ("/x/passwd", "passwd"),
        ("/x/compass", None),
    ],
)
def test_secret_like_names(name, match):
    assert secret_name_match(name) == match


def test_hostile_tags_are_kept_verbatim(ssm):
    ssm.put_parameter(Name="/app/hostile", Value=VALUE, Type="SecureString", Tags=[{"Key": k, "Value": v} for k, v in HOSTILE.items()])
    (c,) = ParameterStoreConnector().collect(ssm_target()).credentials
    assert c.tags == HOSTILE


def test_a_parameter_whose_tags_cannot_be_read_is_kept_and_says_so(ssm, fault_proxy):
    ssm.put_parameter(Name="/app/a", Value=VALUE, Type="SecureString", Tags=[{"Key": "owner", "Value": "x"}])
    ssm.put_parameter(Name="/app/b", Value=VALUE, Type="SecureString", Tags=[{"Key": "owner", "Value": "y"}])
    fault_proxy.inject("error", match="ListTagsForResource", times=1, status=400, code="InvalidResourceId", message="gone")
    result = ParameterStoreConnector().collect(ssm_target())
    assert len(result.credentials) == 2
    unread = [c for c in result.credentials if c.attributes.get("malformed_fields") == ["tags"]]
    assert len(unread) == 1 and unread[0].tags == {}
    assert [e["item"] for e in result.errors] == [unread[0].name]


def test_throttling_beyond_retries_mid_listing_fails_the_unit_instead_of_losing_parameters(ssm, fault_proxy):
    for i in range(25):
        ssm.put_parameter(Name=f"/app/p{i:02d}", Value=VALUE, Type="SecureString")
    fault_proxy.fail("DescribeParameters", "throttle", after=1)  # page 1 answers, every later attempt is throttled
    with pytest.raises(ConnectorError) as caught:
        ParameterStoreConnector().collect(ssm_target())
    assert caught.value.code == "throttled" and caught.value.retryable


def test_a_target_without_a_region_is_refused():
    with pytest.raises(ConnectorError, match="needs a region"):
        ParameterStoreConnector().collect(Target(kind="aws_ssm", source_key=ACCOUNT_A, role_arn=ROLE_A))


def test_the_secret_name_pattern_is_a_setting_and_a_broken_one_is_a_clear_error(ssm, settings):
    ssm.put_parameter(Name="/legacy/smtp_password", Value=VALUE, Type="String")
    ssm.put_parameter(Name="/legacy/hunter2", Value=VALUE, Type="String")
    settings.AWS_SSM_SECRET_NAME_PATTERN = r"hunter\d"
    assert [c.name for c in ParameterStoreConnector().collect(ssm_target()).credentials] == ["/legacy/hunter2"]
    settings.AWS_SSM_SECRET_NAME_PATTERN = "pass(word"
    with pytest.raises(ConnectorError) as caught:
        ParameterStoreConnector().collect(ssm_target())
    assert caught.value.code == "invalid_setting" and "AWS_SSM_SECRET_NAME_PATTERN" in str(caught.value)
