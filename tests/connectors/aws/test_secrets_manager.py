"""SecretsManagerConnector against moto's server over real HTTP, and the secret-value guard."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from apps.connectors.aws.allowlist import OperationRefused
from apps.connectors.aws.client import make_client, new_session
from apps.connectors.aws.secrets_manager import SecretsManagerConnector, rotation_interval_days
from apps.connectors.base import ConnectorError, Target
from apps.connectors.kinds import CredentialKind
from apps.devtools.simulators.aws import secretsmanager_backend
from tests.support.aws import ACCOUNT_A, ACCOUNT_B, free_closed_port, sm_target

HOSTILE = {
    "formula": "=cmd|' /C calc'!A0",
    "plus": "+1",
    "at": "@SUM(1)",
    "html": "<script>alert(1)</script>",
    "long": "y" * 256,  # AWS's maximum tag value length
    "rtl": "\u202egnp.exe",
    "zwsp": "a\u200bb",
}


@pytest.fixture
def sm(moto_url):
    def client(region: str):
        return boto3.client("secretsmanager", endpoint_url=moto_url, region_name=region)

    return client


def collect(target: Target):
    return SecretsManagerConnector().collect(target)


def by_name(result):
    return {c.name: c for c in result.credentials}


def test_two_regions_with_paging(sm):
    west, east = sm("eu-west-1"), sm("us-east-1")
    for i in range(120):
        west.create_secret(Name=f"app/{i:03d}", SecretString="never-read")
    for i in range(3):
        east.create_secret(Name=f"east/{i}", SecretString="never-read")

    west_result = collect(sm_target("eu-west-1"))
    east_result = collect(sm_target("us-east-1"))

    assert len(west_result.credentials) == 120
    assert len({c.external_id for c in west_result.credentials}) == 120
    assert west_result.api_calls["ListSecrets"] == 2  # 100 + 20
    assert {c.attributes["region"] for c in west_result.credentials} == {"eu-west-1"}
    assert sorted(by_name(east_result)) == ["east/0", "east/1", "east/2"]
    assert east_result.api_calls["ListSecrets"] == 1
    assert all(c.credential_type == CredentialKind.SM_SECRET for c in east_result.credentials)
    assert all(":eu-west-1:" in c.external_id for c in west_result.credentials)
    assert west_result.errors == [] and east_result.errors == []
    assert west_result.facts == {
        "account_id": ACCOUNT_A,
        "region": "eu-west-1",
        "secrets": 120,
        "resource_policies_read": 120,
        "resource_policies_reused": 0,
    }
    assert set(west_result.api_calls) == {"AssumeRole", "ListSecrets", "GetResourcePolicy"}  # no DescribeSecret
    assert west_result.api_calls["GetResourcePolicy"] == 120  # one per secret: who may read it


def test_rotation_deletion_and_metadata(sm):
    client = sm("eu-west-1")
    client.create_secret(Name="plain", SecretString="x", Description="db password", KmsKeyId="alias/app")
    client.create_secret(Name="rotated", SecretString="x")
    client.rotate_secret(SecretId="rotated", RotationRules={"AutomaticallyAfterDays": 30})
    client.create_secret(Name="doomed", SecretString="x")
    client.delete_secret(SecretId="doomed", RecoveryWindowInDays=7)
    owned = client.create_secret(Name="rds!cluster-1", SecretString="x")["ARN"]
    secret = secretsmanager_backend(ACCOUNT_A, "eu-west-1").secrets[owned]
    # Real AWS sets this for secrets a service manages; moto derives it from a reserved tag.
    secret.tags = [{"Key": "aws:secretsmanager:owningService", "Value": "rds"}]
    secret.created_date = (datetime.now(UTC) - timedelta(days=400)).timestamp()

    secrets = by_name(collect(sm_target("eu-west-1")))

    plain = secrets["plain"]
    assert plain.rotation_enabled is False and plain.rotation_interval_days is None
    assert plain.last_rotated_at is None and plain.next_rotation_at is None
    assert plain.attributes["description"] == "db password"
    assert plain.attributes["kms_key_id"] == "alias/app"
    assert plain.enabled is True and plain.deleted_at is None
    assert plain.last_used_at is None  # moto never returns LastAccessedDate
    assert plain.created_at is not None and plain.last_changed_at is not None

    rotated = secrets["rotated"]
    assert rotated.rotation_enabled is True and rotated.rotation_interval_days == 30
    assert rotated.last_rotated_at is not None
    assert rotated.next_rotation_at - rotated.last_rotated_at == timedelta(days=30)

    doomed = secrets["doomed"]  # IncludePlannedDeletion: still listed, marked
    assert doomed.deleted_at is not None and doomed.enabled is False
    assert timedelta(days=6) < doomed.deleted_at - datetime.now(UTC) <= timedelta(days=7)

    assert secrets["rds!cluster-1"].attributes["owning_service"] == "rds"
    assert datetime.now(UTC) - secrets["rds!cluster-1"].created_at > timedelta(days=399)


def test_hostile_tag_values_are_kept_verbatim(sm):
    sm("eu-west-1").create_secret(Name="tagged", SecretString="x", Tags=[{"Key": key, "Value": value} for key, value in HOSTILE.items()])

    (record,) = collect(sm_target("eu-west-1")).credentials

    assert record.tags == HOSTILE


def test_second_account(sm, moto_url):
    sm("eu-west-1").create_secret(Name="in-a", SecretString="x")
    sts = boto3.client("sts", endpoint_url=moto_url, region_name="eu-west-1")
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT_B}:role/seed", RoleSessionName="seed")["Credentials"]
    boto3.client(
        "secretsmanager",
        endpoint_url=moto_url,
        region_name="eu-west-1",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    ).create_secret(Name="in-b", SecretString="x")

    result = collect(sm_target("eu-west-1", ACCOUNT_B))

    assert list(by_name(result)) == ["in-b"]
    assert f":{ACCOUNT_B}:" in result.credentials[0].external_id


@pytest.mark.parametrize(
    ("rules", "days", "extra"),
    [
        ({"AutomaticallyAfterDays": 30}, 30, {}),
        ({"ScheduleExpression": "rate(10 days)"}, 10, {}),
        ({"ScheduleExpression": "rate(1 day)"}, 1, {}),
        ({"ScheduleExpression": "rate(4 hours)", "Duration": "2h"}, 1, {"rotation_interval_hours": 4}),
        ({"ScheduleExpression": "rate(72 hours)"}, 3, {"rotation_interval_hours": 72}),
        ({"ScheduleExpression": "cron(0 16 1,15 * ? *)"}, None, {}),
        ({"AutomaticallyAfterDays": 0}, None, {}),
        (None, None, {}),
    ],
)
def test_rotation_interval(rules, days, extra):
    interval, attributes = rotation_interval_days(rules)
    assert interval == days
    assert attributes["rotation_schedule_expression"] == (rules or {}).get("ScheduleExpression")
    for key, value in extra.items():
        assert attributes[key] == value


def test_region_is_required():
    with pytest.raises(ConnectorError) as caught:
        collect(Target(kind="aws_secrets_manager", source_key=ACCOUNT_A))
    assert caught.value.code == "invalid_target"


def test_a_failing_second_page_fails_the_region(sm, fault_proxy):
    client = sm("eu-west-1")
    for i in range(101):
        client.create_secret(Name=f"s{i}", SecretString="x")
    # Page 1 passes, page 2 throttles beyond retries: the run fails as a whole instead
    # of returning 100 secrets that would make the 101st look deleted.
    fault_proxy.fail("ListSecrets", "throttle", after=1)

    with pytest.raises(ConnectorError) as caught:
        collect(sm_target("eu-west-1"))

    assert caught.value.code == "throttled" and caught.value.retryable is True
    assert fault_proxy.seen["ListSecrets"] == 1 + 3  # page 1, then page 2 tried 3 times


def test_server_error_then_recovery(sm, fault_proxy):
    sm("eu-west-1").create_secret(Name="one", SecretString="x")
    fault_proxy.fail("ListSecrets", "error500", times=1)

    result = collect(sm_target("eu-west-1"))

    assert list(by_name(result)) == ["one"]
    assert result.api_calls["ListSecrets"] == 2


def test_unreachable(settings):
    settings.AWS_ENDPOINT_URL = f"http://127.0.0.1:{free_closed_port()}"
    settings.AWS_MAX_ATTEMPTS = 1
    with pytest.raises(ConnectorError) as caught:
        collect(sm_target("eu-west-1"))
    assert caught.value.code == "unreachable"


# --- keytrail never reads a secret value ---------------------------------------------


def test_secret_value_reads_are_refused_before_any_request(sm, fault_proxy):
    sm("eu-west-1").create_secret(Name="crown-jewels", SecretString="must-never-leave")
    api_calls: Counter = Counter()
    client = make_client(new_session(), "secretsmanager", region="eu-west-1", api_calls=api_calls)

    read_value = getattr(client, "get_" + "secret_value")
    with pytest.raises(OperationRefused) as caught:
        read_value(SecretId="crown-jewels")
    batch_read = getattr(client, "batch_get_" + "secret_value")
    with pytest.raises(OperationRefused):
        batch_read(SecretIdList=["crown-jewels"])

    assert caught.value.code == "operation_refused"
    assert fault_proxy.seen["GetSecretValue"] == 0
    assert fault_proxy.seen["BatchGetSecretValue"] == 0
    assert api_calls == Counter()


def test_collection_calls_nothing_but_list_secrets_and_their_policies(sm, fault_proxy):
    sm("eu-west-1").create_secret(Name="one", SecretString="x")
    collect(sm_target("eu-west-1"))
    assert set(fault_proxy.seen) == {"AssumeRole", "ListSecrets", "GetResourcePolicy"}


APPS = Path(__file__).resolve().parents[3] / "apps"
# Built from pieces so this file never contains the call it forbids.
FORBIDDEN_CALL = re.compile(r"get_" + r"secret(_value)?\s*\(")


def test_no_code_in_apps_reads_secret_values():
    offenders = []
    for path in APPS.rglob("*.py"):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if FORBIDDEN_CALL.search(line):
                offenders.append(f"{path.relative_to(APPS.parent)}:{number}: {line.strip()}")
    assert offenders == []
