"""A synthetic inventory written straight into the database, for benchmarks at sizes the
simulators would take minutes to serve (100,000 credentials in seconds).

Reproducible for a seed; the same mix of problems as the demo: old and unused keys, console
users without MFA, secrets without rotation or expiry, missing owners."""

from __future__ import annotations

import hashlib
import random
from datetime import datetime, timedelta

from django.db import transaction

from apps.core.bulk import bulk_insert
from apps.inventory.models import CollectionRun, CollectionUnit, Credential, Identity, Snapshot, Source


def _fp(*parts) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()


@transaction.atomic
def seed_inventory(*, credentials: int, seed: int, now: datetime, actor) -> dict[str, int]:
    """Create one AWS account source and one vault source holding about ``credentials``
    credentials (40 % access keys, 10 % console passwords, 25 % Secrets Manager, 25 % Key Vault)."""
    rng = random.Random(seed)
    aws = Source.objects.create(
        name=f"bench-aws-{seed}",
        kind=Source.Kind.AWS_ACCOUNT,
        aws_account_id="999999999999",
        role_arn="arn:aws:iam::999999999999:role/bench",
        regions=["eu-west-1"],
        created_by=actor,
    )
    kv = Source.objects.create(
        name=f"bench-kv-{seed}", kind=Source.Kind.AZURE_KEY_VAULT, vault_url="https://bench.vault.azure.net/", created_by=actor
    )
    run = CollectionRun.objects.create(status=CollectionRun.Status.SUCCEEDED, started_at=now, finished_at=now)
    scopes = [
        (aws, "aws_iam", "aws_iam"),
        (aws, "aws_secrets_manager:eu-west-1", "aws_secrets_manager"),
        (kv, "azure_key_vault:https://bench.vault.azure.net/", "azure_key_vault"),
    ]
    snapshots = {}
    for source, scope, connector in scopes:
        unit = CollectionUnit.objects.create(
            run=run,
            source=source,
            connector=connector,
            scope=scope,
            status=CollectionUnit.Status.SUCCEEDED,
            started_at=now,
            finished_at=now,
            attempts=1,
        )
        facts = (
            {
                "password_policy": {"MinimumPasswordLength": 8},
                "password_policy_status": "present",
                "root": {"mfa_active": False, "access_keys_present": False},
            }
            if scope == "aws_iam"
            else {}
        )
        snapshots[scope] = Snapshot.objects.create(
            unit=unit, source=source, scope=scope, taken_at=now, facts=facts, content_sha256=_fp(scope)
        )

    n_keys, n_console = int(credentials * 0.40), int(credentials * 0.10)
    n_sm = int(credentials * 0.25)
    n_kv = credentials - n_keys - n_console - n_sm
    n_users = max(1, n_keys // 2)

    def day(lo, hi):
        return now - timedelta(days=rng.randint(lo, hi), seconds=rng.randint(0, 86399))

    id_rows = []
    for i in range(n_users):
        human = i % 3 == 0
        tags = {"owner": f"user{i}@example.com"} if rng.random() < 0.8 else {}
        id_rows.append(
            (
                aws.id,
                "aws_iam",
                f"arn:aws:iam::999999999999:user/u{i:06d}",
                f"u{i:06d}",
                "human" if human else "service",
                day(30, 1500),
                rng.random() < 0.03,
                rng.random() < 0.7 if human else False,
                tags.get("owner", ""),
                tags,
                {},
                _fp("i", i),
                now,
            )
        )
    bulk_insert(
        Identity,
        [
            "source_id",
            "scope",
            "external_id",
            "name",
            "kind",
            "created_at",
            "privileged",
            "mfa_active",
            "owner",
            "tags",
            "data",
            "fingerprint",
            "first_seen_at",
        ],
        id_rows,
    )
    identity_ids = list(Identity.objects.filter(source=aws).order_by("id").values_list("id", flat=True))

    cols = [
        "source_id",
        "scope",
        "external_id",
        "credential_type",
        "name",
        "identity_id",
        "enabled",
        "created_at",
        "last_rotated_at",
        "last_used_at",
        "expires_at",
        "rotation_enabled",
        "rotation_interval_days",
        "next_rotation_at",
        "deleted_at",
        "owner",
        "tags",
        "attributes",
        "fingerprint",
        "first_seen_at",
    ]

    def rows():
        for i in range(n_keys):
            created = day(1, 900)
            used = None if rng.random() < 0.15 else created + (now - created) * rng.random()
            yield (
                aws.id,
                "aws_iam",
                f"AKIA{i:016d}",
                "access_key",
                f"key {i}",
                identity_ids[i // 2],
                rng.random() > 0.1,
                created,
                created,
                used,
                None,
                None,
                None,
                None,
                None,
                "",
                {"request-ref": f"REQ-{i}"} if rng.random() < 0.7 else {},
                {"last_used_status": "never_used" if used is None else "used"},
                _fp("k", i),
                now,
            )
        for i in range(n_console):
            created = day(30, 1500)
            yield (
                aws.id,
                "aws_iam",
                f"console-{i}",
                "console_password",
                f"console {i}",
                identity_ids[(i * 3) % len(identity_ids)],
                True,
                created,
                created,
                created + (now - created) * rng.random() if rng.random() > 0.1 else None,
                None,
                None,
                None,
                None,
                None,
                "",
                {},
                {},
                _fp("c", i),
                now,
            )
        for i in range(n_sm):
            created, enabled_rot = day(5, 900), rng.random() < 0.6
            rotated = day(0, 200) if enabled_rot else None
            yield (
                aws.id,
                "aws_secrets_manager:eu-west-1",
                f"arn:aws:secretsmanager:eu-west-1:999999999999:secret:s{i}",
                "sm_secret",
                f"prod/db/s{i}" if i % 2 else f"prod/api/s{i}",
                None,
                None,
                created,
                rotated,
                None,
                None,
                enabled_rot,
                60 if enabled_rot else None,
                rotated + timedelta(days=60) if rotated else None,
                None,
                "team@example.com" if rng.random() < 0.8 else "",
                {"owner": "team@example.com"} if rng.random() < 0.8 else {},
                {},
                _fp("s", i),
                now,
            )
        for i in range(n_kv):
            created = day(1, 800)
            expires = None if rng.random() < 0.25 else now + timedelta(days=rng.randint(-100, 400))
            yield (
                kv.id,
                "azure_key_vault:https://bench.vault.azure.net/",
                f"https://bench.vault.azure.net/secrets/kv{i}",
                "kv_secret",
                f"kv{i}",
                None,
                rng.random() > 0.05,
                created,
                created,
                None,
                expires,
                None,
                None,
                None,
                None,
                "",
                {"owner": "team@example.com"} if rng.random() < 0.85 else {},
                {},
                _fp("v", i),
                now,
            )

    written = bulk_insert(Credential, cols, rows())
    return {"identities": len(id_rows), "credentials": written}
