"""Seeding for the 9.2.4.07 and 9.2.4.18 rules: CloudTrail trails, Secrets Manager resource
policies and an IAM role that may read every secret, through moto's server (real HTTP).

The demo calls :func:`seed_secret_access_and_logging` so that each new rule shows a pass and a
fail: the production account has a good multi-region trail, the sandbox a single-region one
without log-file validation; one production secret is readable by everyone, one by another
account, one by the organisation only; a production role may read every secret.
"""

from __future__ import annotations

import json
from typing import Any

import boto3

ORGANIZATION_ID = "o-northwind01"
PARTNER_ACCOUNT = "999988887777"
TRAIL_BUCKET = "keytrail-demo-cloudtrail"


def _client(url: str, service: str, account_id: str, region: str) -> Any:
    """A plain boto3 client on moto acting in ``account_id`` (moto's ``x-moto-account-id`` header)."""
    client = boto3.client(service, endpoint_url=url, region_name=region, aws_access_key_id="demo", aws_secret_access_key="demo")

    def in_account(request: Any, **kwargs: Any) -> None:
        request.headers["x-moto-account-id"] = account_id

    client.meta.events.register("before-sign", in_account)
    return client


def _read_policy(principal: Any, condition: dict | None = None, sid: str = "Read") -> str:
    statement: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": principal,
        "Action": "secretsmanager:GetSecretValue",
        "Resource": "*",
    }
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def seed_trail(url: str, account_id: str, *, home_region: str, good: bool) -> str:
    """A trail in ``account_id``: multi-region, logging, read+write management events and log-file
    validation when ``good``; otherwise single-region without validation. Returns its name."""
    s3 = _client(url, "s3", account_id, "us-east-1")
    bucket = f"{TRAIL_BUCKET}-{account_id}"
    s3.create_bucket(Bucket=bucket)
    cloudtrail = _client(url, "cloudtrail", account_id, home_region)
    name = "org-audit-trail" if good else "legacy-trail"
    cloudtrail.create_trail(Name=name, S3BucketName=bucket, IsMultiRegionTrail=good, EnableLogFileValidation=good)
    cloudtrail.put_event_selectors(TrailName=name, EventSelectors=[{"ReadWriteType": "All", "IncludeManagementEvents": True}])
    if good:
        cloudtrail.start_logging(Name=name)
    return name


def seed_secret_policies(url: str, account_id: str, region: str) -> list[str]:
    """Resource policies on the first three live secrets of ``region``: everyone, a partner
    account, the organisation only. Returns the secrets' names in that order."""
    sm = _client(url, "secretsmanager", account_id, region)
    names = [s["Name"] for s in sm.list_secrets()["SecretList"] if not s.get("DeletedDate")][:3]
    policies = [
        _read_policy({"AWS": "*"}, sid="AnyoneMayRead"),
        _read_policy({"AWS": f"arn:aws:iam::{PARTNER_ACCOUNT}:root"}, sid="PartnerMayRead"),
        _read_policy({"AWS": "*"}, {"StringEquals": {"aws:PrincipalOrgID": ORGANIZATION_ID}}, sid="OrganisationMayRead"),
    ]
    for name, policy in zip(names, policies, strict=False):
        sm.put_resource_policy(SecretId=name, ResourcePolicy=policy)
    return names


def seed_broad_reader_role(url: str, account_id: str) -> str:
    """A role whose inline policy allows reading every secret and parameter."""
    iam = _client(url, "iam", account_id, "us-east-1")
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    iam.create_role(RoleName="legacy-config-loader", AssumeRolePolicyDocument=json.dumps(trust))
    read_all = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue", "ssm:GetParameter*"], "Resource": "*"}],
    }
    iam.put_role_policy(RoleName="legacy-config-loader", PolicyName="read-every-secret", PolicyDocument=json.dumps(read_all))
    return "legacy-config-loader"


def seed_secret_access_and_logging(url: str, *, good_account: str, weak_account: str, region: str) -> dict[str, Any]:
    """What the demo shows for 9.2.4.07 and 9.2.4.18 (see the module docstring)."""
    return {
        "good_trail": seed_trail(url, good_account, home_region=region, good=True),
        # In us-east-1, where keytrail lists trails: a single-region trail elsewhere is not seen at all.
        "weak_trail": seed_trail(url, weak_account, home_region="us-east-1", good=False),
        "secrets_with_policies": seed_secret_policies(url, good_account, region),
        "broad_reader_role": seed_broad_reader_role(url, good_account),
    }
