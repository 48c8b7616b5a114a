"""What the AWS connector tests share besides their fixtures (tests/connectors/aws/conftest.py):
moto's accounts and roles, targets, a closed port, moto's control API, and a fault-injecting
proxy with these tests' vocabulary."""

from __future__ import annotations

import json
import socket
import urllib.request
from datetime import datetime, timedelta

from moto.iam.models import AccessKeyLastUsed

from apps.connectors.base import Target
from apps.devtools.simulators import faults
from apps.devtools.simulators.aws import add_aws_managed_policies

ACCOUNT_A = "123456789012"  # moto's account for the "testing" base credentials
ACCOUNT_B = "222222222222"
ROLE_A = f"arn:aws:iam::{ACCOUNT_A}:role/keytrail-reader"
ROLE_B = f"arn:aws:iam::{ACCOUNT_B}:role/keytrail-reader"


def sm_target(region: str, account: str = ACCOUNT_A) -> Target:
    role = ROLE_A if account == ACCOUNT_A else ROLE_B
    return Target(kind="aws_secrets_manager", source_key=account, role_arn=role, region=region)


def free_closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def post_moto_api(url: str, path: str, body: str) -> None:
    request = urllib.request.Request(f"{url}{path}", data=body.encode(), method="POST", headers={"Content-Type": "text/plain"})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - local moto
        response.read()


class FaultProxy(faults.FaultProxy):
    """apps.devtools.simulators.faults.FaultProxy with these tests' vocabulary.

    ``fail(operation, kind, times=None, after=0)`` lets ``after`` requests for
    ``operation`` through, then makes the next ``times`` (all when ``None``) answer with
    ``kind``: ``throttle`` (400 Throttling), ``error500`` (500 InternalFailure),
    ``nosuchentity`` (404) or ``garbage`` (200 with an unparseable body).
    ``seen`` counts every request by operation, including the failed ones.
    """

    KINDS = {
        "throttle": ("throttle", {}),
        "error500": ("error", {}),
        "nosuchentity": ("error", {"status": 404, "code": "NoSuchEntity", "message": "The user with name x cannot be found."}),
        "garbage": ("malformed", {}),
    }

    def fail(self, operation: str, kind: str, times: int | None = None, after: int = 0) -> None:
        name, params = self.KINDS[kind]
        self.inject(name, match=operation, times=times, after=after, **params)


STAR = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
S3_READ = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}]})


def seed_iam_population(iam, backend, now: datetime):
    """A small account covering the cases the evaluation rules care about (``iam``: a client of
    ACCOUNT_A on moto; ``backend``: its moto backend, for what no API sets); the backend."""
    add_aws_managed_policies(ACCOUNT_A, "AdministratorAccess", "IAMFullAccess")
    iam.create_group(GroupName="admins")
    iam.attach_group_policy(GroupName="admins", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    iam.create_group(GroupName="wildcards")
    iam.put_group_policy(GroupName="wildcards", PolicyName="everything", PolicyDocument=STAR)

    # alice: person, console + virtual MFA, admin through a group, an active used key
    # and an inactive never-used one.
    iam.create_user(UserName="alice", Tags=[{"Key": "identity-type", "Value": "human"}, {"Key": "owner", "Value": "alice@example.com"}])
    iam.create_login_profile(UserName="alice", Password="Correct-Horse-9!")
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName="alice")["VirtualMFADevice"]
    iam.enable_mfa_device(UserName="alice", SerialNumber=device["SerialNumber"], AuthenticationCode1="123456", AuthenticationCode2="654321")
    iam.add_user_to_group(GroupName="admins", UserName="alice")
    iam.create_access_key(UserName="alice")
    iam.create_access_key(UserName="alice")
    # bob: console without MFA, no keys, no tags.
    iam.create_user(UserName="bob")
    iam.create_login_profile(UserName="bob", Password="Battery-Staple-7!")
    # ci-bot: tagged service, one never-used key, narrow inline policy.
    iam.create_user(UserName="ci-bot", Tags=[{"Key": "identity-type", "Value": "service"}])
    iam.put_user_policy(UserName="ci-bot", PolicyName="read", PolicyDocument=S3_READ)
    iam.create_access_key(UserName="ci-bot")
    # svc-old: untagged, no console, two old keys, "*" on "*" through a group.
    iam.create_user(UserName="svc-old")
    iam.add_user_to_group(GroupName="wildcards", UserName="svc-old")
    iam.create_access_key(UserName="svc-old")
    iam.create_access_key(UserName="svc-old")
    # iam-admin: AWS-managed IAMFullAccess attached directly.
    iam.create_user(UserName="iam-admin")
    iam.attach_user_policy(UserName="iam-admin", PolicyArn="arn:aws:iam::aws:policy/IAMFullAccess")
    # nokeys: nothing at all.
    iam.create_user(UserName="nokeys")

    # Backdate through the backend (no API does): creation, last use, status.
    alice = backend.users["alice"]
    alice.create_date = now - timedelta(days=800)
    alice.password_last_used = now - timedelta(days=3)
    alice.access_keys[0].create_date = now - timedelta(days=200)
    alice.access_keys[0].last_used = AccessKeyLastUsed(now - timedelta(days=1), "s3", "eu-west-1")
    alice.access_keys[1].create_date = now - timedelta(days=20)
    alice.access_keys[1].status = "Inactive"
    old = backend.users["svc-old"]
    old.create_date = now - timedelta(days=900)
    old.access_keys[0].create_date = now - timedelta(days=400)
    old.access_keys[0].last_used = AccessKeyLastUsed(now - timedelta(days=100), "ec2", "us-east-1")
    old.access_keys[1].create_date = now - timedelta(days=10)
    return backend
