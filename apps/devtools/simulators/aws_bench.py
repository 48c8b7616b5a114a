"""Benchmark the IAM connector against moto: a first collection, then a repeat one.

    python -m apps.devtools.simulators.aws_bench --users 5000 --keys-per-user 2 --seed 42

Starts moto's server in this process, seeds ``--users`` users through moto's backend
(:func:`apps.devtools.simulators.aws.seed_iam_users`), runs :class:`IamConnector` once without
and once with the first run's ``state``, and prints wall time and API calls per run as
JSON. Needs moto (a development dependency); no database.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any


def run(users: int, seed: int, keys_per_user: int | None, concurrency: int) -> dict[str, Any]:
    from apps.devtools.simulators.aws import DEFAULT_ACCOUNT_ID, seed_iam_users, seed_password_policy, start_moto_server

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    # moto accepts any credentials; keep real ones (and profiles) out of the benchmark.
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    os.environ.pop("AWS_PROFILE", None)
    server, url = start_moto_server()
    try:
        from django.conf import settings

        settings.AWS_ENDPOINT_URL = url
        settings.AWS_CREDENTIAL_REPORT_POLL_INTERVAL = 0.1
        settings.AWS_IAM_PER_USER_CONCURRENCY = concurrency

        from apps.connectors.aws.iam import IamConnector
        from apps.connectors.base import Target
        from apps.connectors.kinds import CredentialKind

        started = time.perf_counter()
        summary = seed_iam_users(DEFAULT_ACCOUNT_ID, users, seed, keys_per_user=keys_per_user)
        seed_password_policy(DEFAULT_ACCOUNT_ID)
        seeding = time.perf_counter() - started

        target = Target(
            kind="aws_iam",
            source_key=DEFAULT_ACCOUNT_ID,
            role_arn=f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/keytrail-reader",
        )
        runs = []
        state = None
        for label in ("first", "repeat"):
            started = time.perf_counter()
            result = IamConnector().collect(target, previous_state=state)
            wall = time.perf_counter() - started
            state = result.state
            runs.append(
                {
                    "run": label,
                    "wall_seconds": round(wall, 2),
                    "api_calls_total": sum(result.api_calls.values()),
                    "api_calls": dict(sorted(result.api_calls.items())),
                    "identities": len(result.identities),
                    "access_keys": sum(c.credential_type == CredentialKind.ACCESS_KEY for c in result.credentials),
                    "errors": len(result.errors),
                    "state_bytes": len(json.dumps(state)),
                }
            )
        return {
            "users": users,
            "seed": seed,
            "keys_seeded": summary.keys,
            "seeding_seconds": round(seeding, 2),
            "per_user_concurrency": concurrency,
            "runs": runs,
        }
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keys-per-user", type=int, default=2, help="0-2; -1 for the realistic mix")
    parser.add_argument("--concurrency", type=int, default=4, help="threads for per-user calls")
    args = parser.parse_args(argv)
    keys = None if args.keys_per_user < 0 else args.keys_per_user
    print(json.dumps(run(args.users, args.seed, keys, args.concurrency), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
