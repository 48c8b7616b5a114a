"""A simulated organisation's cloud: AWS accounts (moto) and Key Vaults (our simulator),
seeded reproducibly with the problems the source guidance warns about.

Used by the demo, the pipeline tests and the benchmark. Everything is written straight
into the simulators' in-process state (seconds, not minutes), with backdated dates no API
allows. Secret *values* exist only because moto needs one to create a secret; they are
the canary ``SECRET_CANARY`` and keytrail must never read them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apps.devtools.simulators.aws import iam_backend, secretsmanager_backend, seed_iam_users, seed_password_policy

SECRET_CANARY = "KEYTRAIL-CANARY-7f3a9c-never-read-me"
HOSTILE_TAG_VALUES = [
    '=HYPERLINK("http://evil.example","click")',
    "+1+cmd|' /C calc'!A0",
    "@SUM(1,1)",
    "-2+3",
    "<script>alert('tag')</script>",
    "abc\u202etxt.exe",
    "zero\u200bwidth",
]
_SM_KINDS = [  # (name pattern, class tag, rotation days or None)
    ("prod/db/{team}-postgres", "database", 60),
    ("prod/api/{team}-stripe-key", "external-api", 180),
    ("prod/svc/{team}-service-password", "service-account", 90),
    ("shared/{team}-tls-cert-key", "certificate", 365),
]
_TEAMS = ("payments", "platform", "data", "web", "security", "finance")


@dataclass
class AwsSeed:
    account_id: str
    users: int
    keys: int
    secrets: int


def seed_aws_account(
    account_id: str,
    *,
    users: int,
    secrets_per_region: int,
    regions: list[str],
    seed: int,
    now: datetime | None = None,
    weak_password_policy: bool = False,
    root_mfa: bool = True,
    root_access_key: bool = False,
    hostile: bool = True,
    keys_per_user: int | None = None,
) -> AwsSeed:
    """Seed IAM users (see seed_iam_users; ``keys_per_user`` None is its realistic mix), a password
    policy, and Secrets Manager secrets."""
    from moto.moto_api._internal import mock_random

    now = now or datetime.now(UTC)
    mock_random.seed(seed)  # stable access key ids and ARN suffixes for a given seed
    summary = seed_iam_users(account_id, users, seed, now=now, keys_per_user=keys_per_user)
    if weak_password_policy:
        seed_password_policy(account_id, minimum_password_length=8, require_symbols=False, password_reuse_prevention=0, max_password_age=0)
    else:
        seed_password_policy(account_id)
    backend = iam_backend(account_id)
    rng = random.Random(seed + 1)
    if hostile and users:
        first = backend.users[f"user-{0:05d}"]
        first.tags.append({"Key": "hostile-note", "Value": rng.choice(HOSTILE_TAG_VALUES)})
    # GetAccountSummary reads these; moto has no API to set root MFA or root keys.
    backend.account_summary._account_mfa_enabled = 1 if root_mfa else 0
    backend.account_summary._account_access_keys_present = 1 if root_access_key else 0
    count = 0
    for region in regions:
        count += seed_secrets(account_id, region, secrets_per_region, seed=seed + sum(map(ord, region)), now=now, hostile=hostile)
    return AwsSeed(account_id, users, summary.keys, count)


def seed_secrets(account_id: str, region: str, n: int, *, seed: int, now: datetime, hostile: bool = True) -> int:
    """Secrets Manager secrets with a realistic mix: rotation on/off/overdue, missing owners,
    scheduled deletion, never rotated."""
    rng = random.Random(seed)
    backend = secretsmanager_backend(account_id, region)
    for i in range(n):
        pattern, klass, days = _SM_KINDS[i % len(_SM_KINDS)]
        team = rng.choice(_TEAMS)
        name = pattern.format(team=team) + f"-{i:04d}"
        tags = [{"Key": "class", "Value": klass}]
        if rng.random() < 0.8:
            tags.append({"Key": "owner", "Value": f"{team}-team@example.com"})
        if rng.random() < 0.6:
            tags.append({"Key": "request-ref", "Value": f"REQ-{rng.randint(1000, 99999)}"})
        if hostile and i == 0:
            tags.append({"Key": "note", "Value": rng.choice(HOSTILE_TAG_VALUES)})
        backend.create_secret(
            name=name,
            secret_string=SECRET_CANARY,
            secret_binary=None,
            description=f"{klass} for {team}",
            tags=tags,
            kms_key_id=None,
            client_request_token=None,
            replica_regions=[],
            force_overwrite=False,
        )
        secret = backend.secrets[name]
        created = now - timedelta(days=rng.randint(5, 900))
        secret.created_date = int(created.timestamp())
        secret.last_changed_date = int((created + timedelta(days=rng.randint(0, 5))).timestamp())
        roll = rng.random()
        if roll < 0.55:  # rotation on, mostly on time
            secret.rotation_requested = True
            secret.rotation_enabled = True
            secret.auto_rotate_after_days = days
            lag = rng.randint(0, days) if rng.random() < 0.8 else rng.randint(days + 1, days * 3)
            last = max(created, now - timedelta(days=lag))
            secret.last_rotation_date = int(last.timestamp())
            secret.next_rotation_date = int((last + timedelta(days=days)).timestamp())
        elif roll < 0.65:  # rotation configured then disabled
            secret.rotation_requested = True
            secret.rotation_enabled = False
            secret.auto_rotate_after_days = days
            secret.last_rotation_date = int((created + timedelta(days=rng.randint(0, 30))).timestamp())
        if rng.random() < 0.04:
            secret.deleted_date = (now - timedelta(days=rng.randint(0, 5))).timestamp()
    return n


_KV_KINDS = [
    ("db-password", "database", "text/plain"),
    ("api-key", "external-api", "text/plain"),
    ("svc-password", "service-account", "text/plain"),
    ("tls-cert", "certificate", "application/x-pem-file"),
]


def seed_vault(simulator: Any, n: int, *, seed: int, now: datetime | None = None, hostile: bool = True) -> int:
    """Key Vault secrets: some without expiry, some expired yet enabled, some expiring soon,
    some with over-long validity, some stale, a few disabled; owners mostly tagged."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    for i in range(n):
        stem, klass, content_type = _KV_KINDS[i % len(_KV_KINDS)]
        team = rng.choice(_TEAMS)
        created = now - timedelta(days=rng.randint(1, 800))
        updated = created + timedelta(days=rng.randint(0, max(0, (now - created).days)))
        roll = rng.random()
        if roll < 0.25:
            expires = None  # no expiry
        elif roll < 0.33:
            expires = now - timedelta(days=rng.randint(1, 120))  # expired, still enabled
        elif roll < 0.43:
            expires = now + timedelta(days=rng.randint(1, 25))  # expiring soon
        elif roll < 0.5:
            expires = updated + timedelta(days=rng.randint(800, 1500))  # validity too long
        else:
            expires = now + timedelta(days=rng.randint(30, 300))
        tags = {"class": klass}
        if rng.random() < 0.85:
            tags["owner"] = f"{team}-team@example.com"
        if rng.random() < 0.6:
            tags["request-ref"] = f"CHG-{rng.randint(10000, 99999)}"
        if hostile and i == 0:
            tags["note"] = rng.choice(HOSTILE_TAG_VALUES)
        simulator.add_secret(
            f"{team}-{stem}-{i:04d}",
            enabled=rng.random() > 0.05,
            created=created,
            updated=updated,
            expires=expires,
            content_type=content_type,
            tags=tags,
            versions=rng.choice((1, 1, 2, 3)),
        )
    return n
