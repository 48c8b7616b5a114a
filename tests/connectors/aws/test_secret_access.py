"""9.2.4.07 and 9.2.4.18 reads against moto's server over HTTP: Secrets Manager resource
policies (GetResourcePolicy), IAM identities that may read every secret (authorization
details, roles included) and the account's CloudTrail trails. Policy forms are also judged
directly (pure parsing), hostile documents included."""

from __future__ import annotations

import json

import boto3
import pytest

from apps.connectors.aws.cloudtrail import management_coverage
from apps.connectors.aws.iam import IamConnector
from apps.connectors.aws.iam.secret_access import secret_read_actions
from apps.connectors.aws.secret_policies import MAX_POLICY_CHARS, PolicyUnreadable, policy_attribute, read_grants
from apps.connectors.aws.secrets_manager import SecretsManagerConnector
from apps.connectors.base import ConnectorError
from apps.devtools.simulators.aws import add_aws_managed_policies
from tests.support.aws import ACCOUNT_A, sm_target
from tests.support.hostile import TEXT

OTHER = "999999999999"


def statement(principal, *, action="secretsmanager:GetSecretValue", condition=None, effect="Allow", key="Principal"):
    s = {"Effect": effect, key: principal, "Action": action, "Resource": "*"}
    if condition is not None:
        s["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [s]})


# --- resource policy forms (pure) --------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "scope", "accounts"),
    [
        (statement("*"), "public", []),
        (statement({"AWS": "*"}), "public", []),
        (statement({"AWS": ["*"]}, action="secretsmanager:*"), "public", []),
        (statement({"AWS": "*"}, action="*"), "public", []),
        (statement({"AWS": "*"}, action="secretsmanager:Get*"), "public", []),
        (statement({"AWS": f"arn:aws:iam::{OTHER}:root"}), "accounts", [OTHER]),
        (statement({"AWS": OTHER}), "accounts", [OTHER]),
        (statement({"AWS": f"arn:aws:iam::{ACCOUNT_A}:role/app"}), "accounts", [ACCOUNT_A]),
        (statement({"AWS": "arn:aws:iam::*:root"}), "public", []),
        (statement({"AWS": f"arn:aws:iam::{OTHER}:root"}, key="NotPrincipal"), "public", []),
        (statement({"AWS": "*"}, condition={"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}), "organization", []),
        (statement({"AWS": "*"}, condition={"StringEquals": {"aws:PrincipalAccount": ACCOUNT_A}}), "accounts", [ACCOUNT_A]),
        (statement({"AWS": "*"}, condition={"StringEquals": {"aws:SourceAccount": [ACCOUNT_A, OTHER]}}), "accounts", [ACCOUNT_A, OTHER]),
        (statement({"AWS": "*"}, condition={"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT_A}:role/*"}}), "accounts", [ACCOUNT_A]),
        # IfExists and negated operators do not narrow: still everyone.
        (statement({"AWS": "*"}, condition={"StringEqualsIfExists": {"aws:PrincipalOrgID": "o-abc123"}}), "public", []),
        (statement({"AWS": "*"}, condition={"StringNotEquals": {"aws:PrincipalAccount": OTHER}}), "public", []),
        (statement({"AWS": "*"}, condition={"StringLike": {"aws:PrincipalAccount": "*"}}), "public", []),
        (statement({"Service": "lambda.amazonaws.com"}), "service", []),
        (statement({"Federated": "cognito-identity.amazonaws.com"}), "external", []),
    ],
)
def test_read_grant_forms(document, scope, accounts):
    grants = read_grants(document)
    assert len(grants) == 1
    assert grants[0]["scope"] == scope and grants[0]["accounts"] == accounts


@pytest.mark.parametrize(
    "document",
    [
        statement("*", action="secretsmanager:DescribeSecret"),  # metadata only
        statement("*", action="secretsmanager:PutSecretValue"),
        statement("*", effect="Deny"),
        json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "NotAction": "secretsmanager:*", "Resource": "*"}]}),
        json.dumps({"Statement": []}),
    ],
)
def test_statements_that_grant_no_read(document):
    assert read_grants(document) == []


def test_not_action_that_leaves_get_secret_value_is_a_read_grant():
    document = {"Statement": [{"Effect": "Allow", "Principal": "*", "NotAction": "secretsmanager:DeleteSecret", "Resource": "*"}]}
    assert read_grants(document)[0]["scope"] == "public"


@pytest.mark.parametrize(
    ("document", "words"),
    [
        ("{not json", "not JSON"),
        ("[]", "not a JSON object"),
        ('"text"', "not a JSON object"),
        (json.dumps({"Statement": ["x"]}), "not a mapping"),
        (json.dumps({"Statement": [{"Effect": "Maybe", "Principal": "*", "Action": "*"}]}), "Effect"),
        (json.dumps({"Statement": [{"Effect": "Allow", "Action": "*"}]}), "no Principal"),
        (json.dumps({"Statement": [{"Effect": "Allow", "Principal": 7, "Action": "*"}]}), "Principal is a int"),
        (json.dumps({"Statement": [{"Effect": "Allow", "Principal": {"AWS": [1]}, "Action": "*"}]}), "not text"),
        (json.dumps({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "bob"}, "Action": "*"}]}), "names no account"),
        (json.dumps({"Statement": [{"Effect": "Allow", "Principal": {"Alien": "x"}, "Action": "*"}]}), "unknown principal type"),
        (json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": {"a": 1}}]}), "not text"),
        (json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Condition": "x"}]}), "Condition"),
        ("{" + " " * (MAX_POLICY_CHARS + 10) + "}", "characters long"),
    ],
    ids=lambda value: value[:40] if isinstance(value, str) else None,
)
def test_unreadable_policies_are_named_never_clean(document, words):
    with pytest.raises(PolicyUnreadable, match=words):
        read_grants(document)
    attribute = policy_attribute(document)
    assert attribute["status"] == "unreadable" and words.split()[0] in attribute["error"]


@pytest.mark.hostile
@pytest.mark.parametrize("hostile", TEXT.values(), ids=TEXT.keys())
def test_hostile_principals_and_sids_are_kept_as_text_or_refused(hostile):
    document = {"Statement": [{"Sid": hostile, "Effect": "Allow", "Principal": {"AWS": hostile}, "Action": "*", "Resource": "*"}]}
    attribute = policy_attribute(document)
    if attribute["status"] == "present":  # a hostile value that happens to be "*" or an ARN
        assert attribute["read_grants"][0]["sid"] == (hostile or "#1")[:120]
    else:
        assert attribute["status"] == "unreadable" and attribute["error"]


# --- Secrets Manager connector: GetResourcePolicy per secret ----------------------------


@pytest.fixture
def sm(moto_url):
    return boto3.client("secretsmanager", endpoint_url=moto_url, region_name="eu-west-1")


def test_resource_policies_are_read_per_secret(sm):
    sm.create_secret(Name="no-policy", SecretString="never-read")
    sm.create_secret(Name="public", SecretString="never-read")
    sm.put_resource_policy(SecretId="public", ResourcePolicy=statement({"AWS": "*"}))
    sm.create_secret(Name="cross", SecretString="never-read")
    sm.put_resource_policy(SecretId="cross", ResourcePolicy=statement({"AWS": f"arn:aws:iam::{OTHER}:root"}))
    sm.create_secret(Name="org", SecretString="never-read")
    sm.put_resource_policy(
        SecretId="org", ResourcePolicy=statement({"AWS": "*"}, condition={"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}})
    )

    result = SecretsManagerConnector().collect(sm_target("eu-west-1"))

    policies = {c.name: c.attributes["resource_policy"] for c in result.credentials}
    assert policies["no-policy"]["status"] == "none"
    assert policies["public"]["read_grants"][0]["scope"] == "public"
    assert policies["cross"]["read_grants"][0]["accounts"] == [OTHER]
    assert policies["org"]["read_grants"][0]["scope"] == "organization"
    assert result.api_calls["GetResourcePolicy"] == 4 and not result.errors


def test_access_denied_on_one_policy_is_an_item_error_and_not_assessed(sm, fault_proxy):
    sm.create_secret(Name="a", SecretString="x")
    sm.create_secret(Name="b", SecretString="x")
    fault_proxy.inject("error", match="GetResourcePolicy", times=1, status=400, code="AccessDeniedException", message="no")

    result = SecretsManagerConnector().collect(sm_target("eu-west-1"))

    statuses = sorted(c.attributes["resource_policy"]["status"] for c in result.credentials)
    assert statuses == ["error", "none"]
    assert [e["code"] for e in result.errors] == ["access_denied"]


def test_throttled_policy_reads_fail_the_region(sm, fault_proxy):
    sm.create_secret(Name="a", SecretString="x")
    fault_proxy.fail("GetResourcePolicy", "throttle")
    with pytest.raises(ConnectorError) as caught:
        SecretsManagerConnector().collect(sm_target("eu-west-1"))
    assert caught.value.code == "throttled" and caught.value.retryable


# --- IAM: identities that may read every secret ------------------------------------------


def test_identity_policy_forms():
    def doc(action, resource="*", condition=None, key="Action"):
        s = {"Effect": "Allow", key: action, "Resource": resource}
        if condition:
            s["Condition"] = condition
        return {"Statement": [s]}

    assert secret_read_actions(doc("secretsmanager:GetSecretValue")) == ["secretsmanager:getsecretvalue"]
    assert "ssm:getparameter" in secret_read_actions(doc("ssm:GetParameter*"))
    assert len(secret_read_actions(doc("*"))) == 6
    assert secret_read_actions(doc("secretsmanager:*", resource="arn:aws:secretsmanager:eu-west-1:123456789012:secret:*"))
    assert secret_read_actions(doc("iam:*", key="NotAction"))  # everything but IAM: secrets included
    # Named secrets, narrowed by tag, metadata-only actions: not broad.
    assert secret_read_actions(doc("secretsmanager:GetSecretValue", resource="arn:aws:secretsmanager:eu-west-1:1:secret:app-*")) == []
    assert secret_read_actions(doc("secretsmanager:*", condition={"StringEquals": {"aws:ResourceTag/team": "a"}})) == []
    assert secret_read_actions(doc("secretsmanager:DescribeSecret")) == []
    assert secret_read_actions(doc("secretsmanager:*", key="NotAction")) == sorted(
        ["ssm:getparameter", "ssm:getparameters", "ssm:getparametersbypath", "ssm:getparameterhistory"]
    )


def test_broad_secret_readers_users_groups_and_roles(iam, target_a):
    broad = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]}
    )
    narrow = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "arn:aws:secretsmanager:*:*:secret:app-*"}
            ],
        }
    )
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
        }
    )
    iam.create_user(UserName="inline-reader")
    iam.put_user_policy(UserName="inline-reader", PolicyName="all-secrets", PolicyDocument=broad)
    iam.create_user(UserName="narrow")
    iam.put_user_policy(UserName="narrow", PolicyName="app", PolicyDocument=narrow)
    iam.create_group(GroupName="ops")
    arn = iam.create_policy(
        PolicyName="ssm-everything",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ssm:*", "Resource": "*"}]}),
    )["Policy"]["Arn"]
    iam.attach_group_policy(GroupName="ops", PolicyArn=arn)
    iam.create_user(UserName="via-group")
    iam.add_user_to_group(GroupName="ops", UserName="via-group")
    iam.create_role(RoleName="app-role", AssumeRolePolicyDocument=trust)
    iam.put_role_policy(RoleName="app-role", PolicyName="secrets-admin", PolicyDocument=broad.replace("GetSecretValue", "*"))
    add_aws_managed_policies(ACCOUNT_A, "AdministratorAccess")
    iam.create_user(UserName="admin")
    iam.attach_user_policy(UserName="admin", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    iam.create_role(RoleName="quiet-role", AssumeRolePolicyDocument=trust)

    result = IamConnector().collect(target_a)

    fact = result.facts["secret_readers"]
    readers = {r["name"]: r for r in fact["readers"]}
    assert set(readers) == {"inline-reader", "via-group", "app-role", "admin"}
    assert readers["via-group"]["via"] == [f"group:ops:managed:{arn}"]
    assert readers["app-role"]["type"] == "role" and readers["app-role"]["via"] == ["inline:secrets-admin"]
    assert readers["admin"]["via"] == ["managed:AdministratorAccess"]
    assert fact["readers_total"] == 4 and fact["principals_judged"] >= 5
    # Users, groups, policies and roles come from one paged call (the roles also feed the
    # external-trust facts): no second call for the secret readers.
    assert result.api_calls["GetAccountAuthorizationDetails"] == 1


# --- CloudTrail ------------------------------------------------------------------------


@pytest.fixture
def trails(moto_url):
    s3 = boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1")
    s3.create_bucket(Bucket="trail-logs")

    def client(region="us-east-1"):
        return boto3.client("cloudtrail", endpoint_url=moto_url, region_name=region)

    return client


def test_no_trail(target_a):
    fact = IamConnector().collect(target_a).facts["cloudtrail"]
    assert fact == {"status": "read", "region": "us-east-1", "trails": []}


def test_a_good_multi_region_trail_from_another_home_region(trails, target_a):
    ct = trails("eu-west-1")
    ct.create_trail(Name="org-trail", S3BucketName="trail-logs", IsMultiRegionTrail=True, EnableLogFileValidation=True)
    ct.start_logging(Name="org-trail")
    ct.put_event_selectors(TrailName="org-trail", EventSelectors=[{"ReadWriteType": "All", "IncludeManagementEvents": True}])

    result = IamConnector().collect(target_a)

    [trail] = result.facts["cloudtrail"]["trails"]
    assert trail["home_region"] == "eu-west-1" and trail["multi_region"] is True
    assert trail["logging"] is True and trail["log_file_validation"] is True and trail["management_events"] == "all"
    assert trail["problems"] == [] and not result.errors


def test_weak_trails_name_their_problems(trails, target_a):
    ct = trails()
    ct.create_trail(Name="single", S3BucketName="trail-logs")
    ct.create_trail(Name="stopped", S3BucketName="trail-logs", IsMultiRegionTrail=True)
    ct.put_event_selectors(TrailName="stopped", EventSelectors=[{"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True}])

    trails_by_name = {t["name"]: t for t in IamConnector().collect(target_a).facts["cloudtrail"]["trails"]}

    assert trails_by_name["single"]["problems"] == ["not multi-region", "log-file validation is off"]
    assert trails_by_name["stopped"]["problems"] == ["logging is off", "log-file validation is off", "management events: write only"]


def test_describe_trails_denied_is_unknown_and_recorded(target_a, fault_proxy):
    fault_proxy.inject("error", match="DescribeTrails", times=1, status=400, code="AccessDeniedException", message="denied")
    result = IamConnector().collect(target_a)
    assert result.facts["cloudtrail"]["status"] == "unknown"
    assert any(e["item"] == "cloudtrail" and e["code"] == "access_denied" for e in result.errors)


def test_trail_status_denied_is_left_unknown(trails, target_a, fault_proxy):
    trails().create_trail(Name="multi", S3BucketName="trail-logs", IsMultiRegionTrail=True, EnableLogFileValidation=True)
    trails().put_event_selectors(TrailName="multi", EventSelectors=[{"ReadWriteType": "All", "IncludeManagementEvents": True}])
    fault_proxy.inject("error", match="GetTrailStatus", times=1, status=400, code="AccessDeniedException", message="denied")
    result = IamConnector().collect(target_a)
    [trail] = result.facts["cloudtrail"]["trails"]
    assert trail["logging"] is None and trail["management_events"] == "all"
    assert [e["code"] for e in result.errors if e["item"] == trail["arn"]] == ["access_denied"]


def test_garbage_describe_trails_is_unknown(target_a, fault_proxy):
    fault_proxy.inject("malformed", match="DescribeTrails", times=1)
    result = IamConnector().collect(target_a)
    assert result.facts["cloudtrail"]["status"] == "unknown"


@pytest.mark.parametrize(
    ("answer", "coverage"),
    [
        ({"EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": True}]}, "all"),
        ({"EventSelectors": [{"ReadWriteType": "ReadOnly"}, {"ReadWriteType": "WriteOnly"}]}, "all"),
        ({"EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": False}]}, "none"),
        ({"EventSelectors": [{"ReadWriteType": "All", "ExcludeManagementEventSources": ["kms.amazonaws.com"]}]}, "all"),
        ({"EventSelectors": [{"ReadWriteType": "All", "ExcludeManagementEventSources": ["secretsmanager.amazonaws.com"]}]}, "write_only"),
        ({"AdvancedEventSelectors": [{"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]}]}, "all"),
        (
            {
                "AdvancedEventSelectors": [
                    {"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}, {"Field": "readOnly", "Equals": ["false"]}]}
                ]
            },
            "write_only",
        ),
        ({"AdvancedEventSelectors": [{"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Data"]}]}]}, "none"),
        ({"EventSelectors": []}, "none"),
        ({}, None),
        ({"EventSelectors": "junk"}, None),
    ],
)
def test_management_coverage(answer, coverage):
    assert management_coverage(answer) == coverage


# --- the demo's seeding, collected and judged ---------------------------------------------


def test_demo_seeding_gives_each_new_rule_a_pass_and_a_fail(moto_url):
    from dataclasses import replace
    from datetime import UTC, datetime

    from apps.devtools.simulators.organisation import seed_secrets
    from apps.devtools.simulators.secret_access import seed_secret_access_and_logging
    from apps.evaluation.rules.base import SourceFacts
    from apps.evaluation.rules.cloudtrail import CloudTrailMultiRegion
    from apps.evaluation.rules.secret_access import BroadSecretReaders, SecretResourcePolicyBroadRead
    from tests.evaluation.rules.facts import cred, ctx
    from tests.support.aws import ACCOUNT_B, ROLE_B

    seed_secrets(ACCOUNT_A, "eu-west-1", 4, seed=1, now=datetime.now(UTC), hostile=False)
    seeded = seed_secret_access_and_logging(moto_url, good_account=ACCOUNT_A, weak_account=ACCOUNT_B, region="eu-west-1")

    target_a = replace(sm_target("eu-west-1"), kind="aws_iam", region="")
    good = IamConnector().collect(target_a)
    weak = IamConnector().collect(replace(target_a, source_key=ACCOUNT_B, role_arn=ROLE_B))
    trails_rule, readers_rule = CloudTrailMultiRegion(), BroadSecretReaders()
    facts = [SourceFacts(i, f"acct-{i}", "aws_account", True, 60, r.facts) for i, r in enumerate((good, weak))]
    assert [trails_rule.evaluate(f, ctx()).status for f in facts] == ["pass", "fail"]
    assert [readers_rule.evaluate(f, ctx()).status for f in facts] == ["fail", "pass"]

    secrets = SecretsManagerConnector().collect(sm_target("eu-west-1")).credentials
    rule = SecretResourcePolicyBroadRead()
    verdicts = {
        s.name: rule.evaluate(cred("sm_secret", name=s.name, external_id=s.external_id, attributes=s.attributes), ctx()).status
        for s in secrets
    }
    first, second, third = seeded["secrets_with_policies"]
    assert (verdicts[first], verdicts[second], verdicts[third]) == ("fail", "fail", "pass")
    assert "pass" in {v for name, v in verdicts.items() if name not in seeded["secrets_with_policies"]}


def test_a_repeat_collection_reuses_fresh_policies_and_rereads_changed_ones(sm, settings):
    from datetime import UTC, datetime, timedelta

    sm.create_secret(Name="stable", SecretString="x")
    sm.create_secret(Name="changing", SecretString="x")
    sm.put_resource_policy(SecretId="changing", ResourcePolicy=statement({"AWS": "*"}))
    first = SecretsManagerConnector().collect(sm_target("eu-west-1"))
    assert first.api_calls["GetResourcePolicy"] == 2

    again = SecretsManagerConnector().collect(sm_target("eu-west-1"), previous_state=first.state)
    assert again.api_calls["GetResourcePolicy"] == 0 and again.facts["resource_policies_reused"] == 2
    assert {c.name: c.attributes["resource_policy"]["status"] for c in again.credentials} == {"stable": "none", "changing": "present"}

    # A changed secret (LastChangedDate moves) is read again, whatever its age.
    state = again.state
    arn = next(c.external_id for c in again.credentials if c.name == "changing")
    state["resource_policies"][arn]["changed"] = "2001-01-01T00:00:00+00:00"
    assert SecretsManagerConnector().collect(sm_target("eu-west-1"), previous_state=state).api_calls["GetResourcePolicy"] == 1

    # Older than the refresh: read again; refresh 0 reads every time; unreadable state is ignored.
    old = (datetime.now(UTC) - timedelta(hours=25)).isoformat()
    aged = {"version": 1, "resource_policies": {a: {**v, "at": old} for a, v in again.state["resource_policies"].items()}}
    assert SecretsManagerConnector().collect(sm_target("eu-west-1"), previous_state=aged).api_calls["GetResourcePolicy"] == 2
    settings.AWS_SM_RESOURCE_POLICY_REFRESH_HOURS = 0
    assert SecretsManagerConnector().collect(sm_target("eu-west-1"), previous_state=again.state).api_calls["GetResourcePolicy"] == 2
    settings.AWS_SM_RESOURCE_POLICY_REFRESH_HOURS = 24
    broken = {"version": 1, "resource_policies": {arn: {"at": "yesterday", "changed": None, "policy": "x"}}}
    assert SecretsManagerConnector().collect(sm_target("eu-west-1"), previous_state=broken).api_calls["GetResourcePolicy"] == 2


@pytest.mark.hostile
def test_hostile_policies_served_by_the_cloud_are_per_secret_errors_never_clean(sm):
    hostile = {
        "broken": "{not json",
        "huge": json.dumps({"Statement": [{"Sid": "x" * (MAX_POLICY_CHARS + 1), "Effect": "Allow", "Principal": "*", "Action": "*"}]}),
        "odd-principal": json.dumps({"Statement": [{"Effect": "Allow", "Principal": {"AWS": ["=HYPERLINK(1)"]}, "Action": "*"}]}),
        "markup-sid": statement("*").replace('"Effect"', '"Sid": "<script>alert(1)</script>\\u202e", "Effect"'),
    }
    for name, policy in hostile.items():
        sm.create_secret(Name=name, SecretString="x")
        sm.put_resource_policy(SecretId=name, ResourcePolicy=policy)

    result = SecretsManagerConnector().collect(sm_target("eu-west-1"))

    policies = {c.name: c.attributes["resource_policy"] for c in result.credentials}
    assert policies["broken"]["status"] == "unreadable" and "not JSON" in policies["broken"]["error"]
    assert policies["huge"]["status"] == "unreadable" and "characters long" in policies["huge"]["error"]
    assert policies["odd-principal"]["status"] == "unreadable" and "names no account" in policies["odd-principal"]["error"]
    assert policies["markup-sid"]["read_grants"][0]["sid"] == "<script>alert(1)</script>\u202e"
    assert sorted(e["code"] for e in result.errors) == ["malformed_value"] * 3
    assert len(result.credentials) == 4  # nothing lost
