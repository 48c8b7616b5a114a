"""The simulated cloud pages GetAccountAuthorizationDetails and ListUsers as AWS does
(apps/devtools/simulators/iam_extras.py): moto itself answers everything in one document."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.support.aws import ACCOUNT_A


@pytest.fixture
def estate(iam):
    iam.create_group(GroupName="ops")
    iam.create_group(GroupName="dev")
    for i in range(7):
        iam.create_user(UserName=f"user-{i}")
    iam.create_policy(
        PolicyName="local",
        PolicyDocument='{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}',
    )
    return iam


def test_authorization_details_are_paged_by_max_items_across_the_four_lists(estate):
    pages, marker = [], None
    while True:
        kwargs = {"Filter": ["User", "Group", "LocalManagedPolicy"], "MaxItems": 3}
        answer = estate.get_account_authorization_details(**kwargs, **({"Marker": marker} if marker else {}))
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


def test_list_users_is_paged(estate):
    answer = estate.list_users(MaxItems=4)
    assert len(answer["Users"]) == 4 and answer["IsTruncated"] is True
    rest = estate.list_users(MaxItems=4, Marker=answer["Marker"])
    assert len(rest["Users"]) == 3 and rest["IsTruncated"] is False
    assert {u["UserName"] for u in answer["Users"] + rest["Users"]} == {f"user-{i}" for i in range(7)}


@pytest.mark.parametrize("params", [{"MaxItems": 1001}, {"Marker": "not-a-marker"}])
def test_bad_paging_parameters_are_refused(estate, params):
    with pytest.raises(ClientError) as caught:
        estate.get_account_authorization_details(**params)
    assert caught.value.response["Error"]["Code"] == "ValidationError"
