"""A simulated AWS for tests, the demo and benchmarks: moto's server, seeded in-process.

moto is a development dependency, so it is imported inside the functions. The server
runs in this process (``ThreadedMotoServer``), which is what lets :func:`seed_iam_users`
write straight into moto's backend: thousands of users take well under a second that
way, against minutes through the API, and dates can be backdated (no API does that).

Typical use::

    server, url = start_moto_server()
    summary = seed_iam_users("123456789012", 500, seed=7)
    # point boto3 / settings.AWS_ENDPOINT_URL at ``url`` and collect
    server.stop()

What :func:`seed_iam_users` reproduces for a given seed: user names, the human/service
mix, tags, console passwords, MFA, groups, key count, status, age and last use. Access
key ids come from moto's own generator and differ between runs.
"""

from __future__ import annotations

import functools
import json
import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

DEFAULT_ACCOUNT_ID = "123456789012"  # moto's account for any unknown credentials
PARTITION = "aws"

_SERVICES = ("s3", "ec2", "sts", "dynamodb", "lambda", "iam", "sqs")
_REGIONS = ("eu-west-1", "eu-central-1", "us-east-1", "us-west-2")
_TEAMS = ("payments", "platform", "data", "web", "security", "finance")

ADMIN_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
DEVELOPER_POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:Get*", "ec2:Describe*"], "Resource": "*"}]}
)
CI_POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::artifacts/*"}]}
)


def iam_backend(account_id: str = DEFAULT_ACCOUNT_ID) -> Any:
    """moto's in-process IAM backend of an account (moto 5 keys IAM by partition: ``"aws"``)."""
    from moto.iam.models import iam_backends

    return iam_backends[account_id][PARTITION]


def secretsmanager_backend(account_id: str, region: str) -> Any:
    from moto.secretsmanager.models import secretsmanager_backends

    return secretsmanager_backends[account_id][region]


@functools.cache
def _aws_managed_policy_data() -> dict[str, Any]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    return json.loads(aws_managed_policies_data)


def add_aws_managed_policies(account_id: str, *names: str) -> list[str]:
    """Make AWS-managed policies (e.g. ``AdministratorAccess``) attachable in an account.

    moto loads all ~1,500 of them only with ``MOTO_IAM_LOAD_MANAGED_POLICIES``, and then
    for every account and partition on every reset (about a second each time); adding
    the few a scenario needs is instant. Returns their ARNs.
    """
    from moto.iam.models import AWSManagedPolicy

    backend = iam_backend(account_id)
    arns = []
    for name in names:
        policy = AWSManagedPolicy.from_data(name, account_id, "us-east-1", _aws_managed_policy_data()[name])
        backend.aws_managed_policies.append(policy)
        backend.managed_policies[policy.arn] = policy
        arns.append(policy.arn)
    return arns


def start_moto_server(port: int = 0) -> tuple[Any, str]:
    """Start moto's server on 127.0.0.1 in a daemon thread; returns ``(server, url)``.

    The server also answers what :mod:`apps.devtools.simulators.iam_extras` adds to moto."""
    from moto.server import ThreadedMotoServer

    from apps.devtools.simulators.iam_extras import install

    install()  # ListServiceSpecificCredentials and real server-certificate dates (iam_extras.py)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    host, bound_port = server.get_host_and_port()
    return server, f"http://{host}:{bound_port}"


def reset_moto(url: str) -> None:
    """Wipe every moto backend (``POST /moto-api/reset``)."""
    import urllib.request

    request = urllib.request.Request(f"{url}/moto-api/reset", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - local moto only
        response.read()


@dataclass
class SeedSummary:
    account_id: str
    users: int
    humans: int
    services: int
    console_users: int
    mfa_users: int
    keys: int
    inactive_keys: int
    never_used_keys: int
    admins: int


def _ensure_group(backend: Any, name: str, inline: str) -> None:
    if name not in backend.groups:
        backend.create_group(name, "/")
        backend.put_group_policy(name, f"{name}-access", inline)


def seed_iam_users(
    account_id: str,
    n: int,
    seed: int,
    *,
    keys_per_user: int | None = None,
    now: datetime | None = None,
    prefix: str = "user",
) -> SeedSummary:
    """Create ``n`` IAM users with a realistic, reproducible mix in moto's backend.

    About a third are people (most with a console password, most of those with a
    virtual MFA device), the rest service users; tags carry owner, request reference and
    sometimes ``identity-type``. Keys: ``keys_per_user`` each if given (0..2), otherwise
    a mix (people mostly 0-1, services mostly 1-2); about 10 % inactive, 15 % never
    used, ages up to four years. A few users sit in an ``administrators`` group whose
    inline policy allows ``*`` on ``*``. Returns counts of what was created.
    """
    from moto.iam.models import AccessKeyLastUsed

    if keys_per_user is not None and not 0 <= keys_per_user <= 2:
        raise ValueError("IAM allows 0 to 2 access keys per user")
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    backend = iam_backend(account_id)
    _ensure_group(backend, "administrators", ADMIN_POLICY)
    _ensure_group(backend, "developers", DEVELOPER_POLICY)
    _ensure_group(backend, "ci", CI_POLICY)

    counts = dict(humans=0, services=0, console_users=0, mfa_users=0, keys=0, inactive_keys=0, never_used_keys=0, admins=0)
    for i in range(n):
        name = f"{prefix}-{i:05d}"
        human = rng.random() < 0.35
        team = rng.choice(_TEAMS)
        tags = [{"Key": "owner", "Value": f"{name}@example.com" if human else f"{team}-team@example.com"}]
        if rng.random() < 0.7:
            tags.append({"Key": "request-ref", "Value": f"REQ-{rng.randint(1000, 99999)}"})
        if rng.random() < 0.5:
            tags.append({"Key": "identity-type", "Value": "human" if human else "service"})
        user = backend.create_user("us-east-1", name, "/", tags)
        age_days = rng.randint(1, 1500)
        user.create_date = now - timedelta(days=age_days, seconds=rng.randint(0, 86399))
        counts["humans" if human else "services"] += 1

        if human and rng.random() < 0.95:
            backend.create_login_profile(name, "not-a-real-password-" + name)
            counts["console_users"] += 1
            if rng.random() > 0.1:
                user.password_last_used = now - timedelta(days=rng.randint(0, min(age_days, 200)), seconds=rng.randint(0, 86399))
            if rng.random() < 0.75:
                device = backend.create_virtual_mfa_device(name, "/")
                backend.enable_mfa_device(name, device.serial_number, "123456", "654321")
                counts["mfa_users"] += 1
        group = "developers" if human else "ci"
        backend.add_user_to_group(group, name)
        if rng.random() < 0.03:
            backend.add_user_to_group("administrators", name)
            counts["admins"] += 1

        if keys_per_user is not None:
            key_count = keys_per_user
        elif human:
            key_count = rng.choices((0, 1, 2), weights=(50, 40, 10))[0]
        else:
            key_count = rng.choices((0, 1, 2), weights=(5, 70, 25))[0]
        created = []
        for _ in range(key_count):
            status = "Inactive" if rng.random() < 0.10 else "Active"
            key = backend.create_access_key(name, status=status)
            key.create_date = user.create_date + timedelta(days=rng.randint(0, age_days), seconds=rng.randint(0, 86399))
            key.create_date = min(key.create_date, now).replace(microsecond=0)
            created.append(key)
            counts["keys"] += 1
            counts["inactive_keys"] += status == "Inactive"
            if rng.random() < 0.15:
                counts["never_used_keys"] += 1
                continue
            span = max(1, int((now - key.create_date).total_seconds()))
            key.last_used = AccessKeyLastUsed(
                timestamp=key.create_date + timedelta(seconds=rng.randint(0, span)),
                service=rng.choice(_SERVICES),
                region=rng.choice(_REGIONS),
            )
        # IAM lists a user's keys (and fills report slots) oldest first.
        user.access_keys.sort(key=lambda k: k.create_date)
    return SeedSummary(account_id=account_id, users=n, **counts)


def seed_password_policy(account_id: str, **overrides: Any) -> None:
    """Give an account a password policy (defaults: 14 characters, 90-day expiry)."""
    policy = dict(
        allow_change_password=True,
        hard_expiry=False,
        max_password_age=90,
        minimum_password_length=14,
        password_reuse_prevention=24,
        require_lowercase_characters=True,
        require_numbers=True,
        require_symbols=True,
        require_uppercase_characters=True,
    )
    policy.update(overrides)
    iam_backend(account_id).update_account_password_policy(**policy)
