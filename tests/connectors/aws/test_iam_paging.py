"""The simulated cloud pages GetAccountAuthorizationDetails and ListUsers as AWS does
(apps/devtools/simulators/iam_extras.py): moto itself answers everything in one document."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from apps.connectors.aws.iam import IamConnector
from apps.connectors.aws.iam import connector as iam_connector
from apps.connectors.aws.iam.reads import UserDetails
from apps.connectors.base import as_jsonable
from apps.devtools.simulators.iam_extras import add_service_specific_credential
from apps.devtools.simulators.more_kinds import SSH_KEY_BODY, certificate_pem
from tests.support.aws import ACCOUNT_A, seed_iam_population

SECRETS_READ = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]}
)


@pytest.fixture
def small(iam):
    iam.create_group(GroupName="ops")
    iam.create_group(GroupName="dev")
    for i in range(7):
        iam.create_user(UserName=f"user-{i}")
    iam.create_policy(
        PolicyName="local",
        PolicyDocument='{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}',
    )
    return iam


def test_authorization_details_are_paged_by_max_items_across_the_four_lists(small):
    pages, marker = [], None
    while True:
        kwargs = {"Filter": ["User", "Group", "LocalManagedPolicy"], "MaxItems": 3}
        answer = small.get_account_authorization_details(**kwargs, **({"Marker": marker} if marker else {}))
        pages.append(answer)
        if not answer["IsTruncated"]:
            assert "Marker" not in answer
            break
        marker = answer["Marker"]
    sizes = [len(p["UserDetailList"]) + len(p["GroupDetailList"]) + len(p["RoleDetailList"]) + len(p["Policies"]) for p in pages]
    assert sizes == [3, 3, 3, 1]  # 7 users, 2 groups, 1 policy: ten items
    assert [len(p["UserDetailList"]) for p in pages] == [3, 3, 1, 0]  # AWS's order: users first
    assert [len(p["GroupDetailList"]) for p in pages] == [0, 0, 2, 0]
    assert [len(p["Policies"]) for p in pages] == [0, 0, 0, 1]
    names = [u["UserName"] for p in pages for u in p["UserDetailList"]]
    assert sorted(names) == [f"user-{i}" for i in range(7)]  # every user once
    assert pages[-1]["Policies"][0]["Arn"] == f"arn:aws:iam::{ACCOUNT_A}:policy/local"


def test_authorization_details_default_to_100_items_and_the_paginator_gets_everything(iam):
    for i in range(120):
        iam.create_user(UserName=f"u{i:03d}")
    first = iam.get_account_authorization_details(Filter=["User"])
    assert len(first["UserDetailList"]) == 100 and first["IsTruncated"] is True
    paged = list(iam.get_paginator("get_account_authorization_details").paginate(Filter=["User"], PaginationConfig={"PageSize": 50}))
    assert [len(p["UserDetailList"]) for p in paged] == [50, 50, 20]
    assert len({u["UserName"] for p in paged for u in p["UserDetailList"]}) == 120


def test_list_users_is_paged(small):
    answer = small.list_users(MaxItems=4)
    assert len(answer["Users"]) == 4 and answer["IsTruncated"] is True
    rest = small.list_users(MaxItems=4, Marker=answer["Marker"])
    assert len(rest["Users"]) == 3 and rest["IsTruncated"] is False
    assert {u["UserName"] for u in answer["Users"] + rest["Users"]} == {f"user-{i}" for i in range(7)}


@pytest.mark.parametrize("params", [{"MaxItems": 1001}, {"Marker": "not-a-marker"}])
def test_bad_paging_parameters_are_refused(small, params):
    with pytest.raises(ClientError) as caught:
        small.get_account_authorization_details(**params)
    assert caught.value.response["Error"]["Code"] == "ValidationError"


# --- the connector reads the account page by page of users -------------------------------


def scrubbed(value):
    """``value`` without the listing times (each collection stamps its own)."""
    if isinstance(value, dict):
        return {k: scrubbed(v) for k, v in value.items() if k not in ("listed_at", "_listed_at", "at")}
    if isinstance(value, list):
        return [scrubbed(v) for v in value]
    return value


def everything(result):
    """Records, facts, state and errors of a drained collection, comparable between collections."""
    return {
        "identities": scrubbed(as_jsonable(result.identities)),
        "credentials": scrubbed(as_jsonable(result.credentials)),
        "facts": scrubbed(as_jsonable(result.facts)),
        "state": scrubbed(as_jsonable(result.state)),
        "errors": sorted(json.dumps(e, sort_keys=True) for e in result.errors),
    }


@pytest.fixture
def estate(iam, backend_a):
    """test_iam.py's population, and more kinds of credential."""
    seed_iam_population(iam, backend_a, datetime.now(UTC).replace(microsecond=0))
    iam.upload_ssh_public_key(UserName="ci-bot", SSHPublicKeyBody=SSH_KEY_BODY)
    add_service_specific_credential(ACCOUNT_A, "alice")
    body, _ = certificate_pem(not_after=datetime.now(UTC) + timedelta(days=90), common_name="bob.signing")
    iam.upload_signing_certificate(UserName="bob", CertificateBody=body)
    for i in range(5):
        iam.create_user(UserName=f"extra-{i}", Tags=[{"Key": "owner", "Value": f"o{i}@example.com"}, {"Key": "note", "Value": ""}])
        iam.add_user_to_group(GroupName="wildcards" if i % 2 else "admins", UserName=f"extra-{i}")
        if i % 2:
            iam.create_access_key(UserName=f"extra-{i}")
            iam.create_login_profile(UserName=f"extra-{i}", Password="Correct-Horse-9!")
    iam.put_user_policy(UserName="extra-0", PolicyName="secrets", PolicyDocument=SECRETS_READ)
    return iam


def test_pages_of_users_give_what_one_page_gives_first_and_repeat(estate, target_a, monkeypatch):
    """The records, facts, state and errors do not depend on how many users are read at once
    (pages of 2 users against one page of the whole account: what the connector did before
    it paged), on a first collection and on a repeat with the state each left."""
    monkeypatch.setattr(iam_connector, "USER_PAGE", 1000)
    whole = IamConnector().collect(target_a)
    whole_repeat = IamConnector().collect(target_a, previous_state=json.loads(json.dumps(as_jsonable(whole.state))))
    monkeypatch.setattr(iam_connector, "USER_PAGE", 2)
    paged = IamConnector().collect(target_a)
    paged_repeat = IamConnector().collect(target_a, previous_state=json.loads(json.dumps(as_jsonable(paged.state))))

    assert len(whole.identities) == 12 and whole.facts["collection"]["users"] == 11
    assert everything(paged) == everything(whole)
    assert everything(paged_repeat) == everything(whole_repeat)
    for a, b in ((paged, whole), (paged_repeat, whole_repeat)):  # the report's polling varies with timing
        assert a.api_calls - Counter(GenerateCredentialReport=9) == b.api_calls - Counter(GenerateCredentialReport=9)
    collection = paged.facts["collection"]  # summed over the six pages
    assert (collection["access_keys_listed_for"], collection["ssh_and_service_credentials_listed_for"]) == (5, 11)
    assert paged_repeat.facts["collection"]["access_keys_reused_for"] == 5
    assert {r["name"] for r in paged.facts["secret_readers"]["readers"]} >= {"alice", "extra-0", "extra-2", "extra-4"}


def test_per_user_calls_are_made_one_page_at_a_time_inside_the_stream(estate, target_a, monkeypatch, settings):
    monkeypatch.setattr(iam_connector, "USER_PAGE", 2)
    monkeypatch.setattr(iam_connector, "STREAM_BATCH_RECORDS", 1)
    result = IamConnector().collect_stream(target_a)
    assert "ListSSHPublicKeys" not in result.api_calls  # nothing per user before the stream starts
    stream = result.batches()
    next(stream)
    assert result.api_calls["ListSSHPublicKeys"] == 2  # the first page's users only
    for _ in stream:
        pass
    assert result.api_calls["ListSSHPublicKeys"] == 11


def test_user_details_are_given_back_as_aws_sent_them():
    details = UserDetails()
    sent = [
        {"Arn": "a1", "UserName": "one", "Path": "/", "GroupList": ["g"], "Tags": [{"Key": "k", "Value": "v"}, {"Key": "bare"}], "X": 1},
        {"Arn": "a2", "UserName": "two", "Path": "/", "GroupList": ["g"], "Tags": "not-a-list", "AttachedManagedPolicies": []},
        {"UserName": "no-arn"},
    ]
    for user in sent:
        details.add(user)
    assert len(details) == 3
    first, second = details.take(2)
    assert first == {k: v for k, v in sent[0].items() if k != "X"}  # fields nobody reads are not kept
    assert second == sent[1] and second["GroupList"] is first["GroupList"]  # repeated values held once
    assert details.take(5) == [{"UserName": "no-arn"}] and len(details) == 0
