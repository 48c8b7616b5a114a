"""Benchmark an AWS organisation source: discovery, first collection against the bare SDK, repeat.

    DATABASE_URL=postgres://... python manage.py bench_organization --accounts 50 --json out.json

An AWS Organization on moto's server (in this process) with ``--accounts`` member accounts,
each with ``--users`` IAM users and ``--secrets`` Secrets Manager secrets in one region
(small data each: the estate's size is the number of accounts). In a throwaway database:

1. **first collection** of one organisation source (Celery eager: every unit in this
   process, one after the other): the discovery unit (``ListAccounts``, paged), then each
   member's IAM and Secrets Manager units it spawned. Reported: wall and CPU seconds, the
   discovery unit's own time, API calls.
2. **bare SDK**: a plain boto3 loop making the same calls (``ListAccounts`` paged, then per
   account what :func:`apps.devtools.simulators.bare_sdk.read_account` reads), no keytrail code.
   The target is first collection ≤ 1.5 × bare SDK (wall and CPU).
3. **repeat collection**: the same source again, nothing changed in the cloud.

CPU seconds are this process's (``time.process_time``), which includes moto's server threads:
both sides pay them, so the ratio compares like with like on a shared machine. The machine's
load average before and after is printed with the figures.
"""

from __future__ import annotations

import json as jsonlib
import os
import platform
import time
from collections import Counter

from django.conf import settings
from django.core.management.base import BaseCommand

from apps.devtools.simulators.bench import collect, throwaway_database

RATIO_LIMIT = 1.5
ROLE = "keytrail-bench"
REGION = "eu-west-1"


def _timed(fn):
    wall, cpu = time.monotonic(), time.process_time()
    result = fn()
    return result, round(time.monotonic() - wall, 3), round(time.process_time() - cpu, 3)


class Command(BaseCommand):
    help = "Discovery and collection of an AWS organisation of N member accounts against the bare-SDK loop (docs/benchmarks.md)."

    def add_arguments(self, parser):
        parser.add_argument("--accounts", type=int, default=50)
        parser.add_argument("--users", type=int, default=3)
        parser.add_argument("--secrets", type=int, default=2)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--json", help="write the figures to this file")

    def handle(self, *args, accounts: int, users: int, secrets: int, seed: int, json: str | None, **options):
        from apps.accounts.models import User
        from apps.devtools.simulators.aws import start_moto_server
        from apps.devtools.simulators.aws_organization import add_account, create_organization
        from apps.devtools.simulators.organisation import seed_aws_account
        from apps.inventory.models import CollectionUnit
        from apps.inventory.services.sources import source_create

        for name, value in {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}.items():
            os.environ.setdefault(name, value)
        os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
        server, url = start_moto_server()
        os.environ["AWS_ENDPOINT_URL"] = url
        settings.AWS_ENDPOINT_URL = url
        settings.AWS_CREDENTIAL_REPORT_POLL_INTERVAL = 0.1  # as the bare loop polls
        settings.KEYTRAIL_EVALUATE_AFTER_COLLECTION = False
        load_before = os.getloadavg()
        try:
            organization = create_organization(url)
            for i in range(accounts):
                account_id = add_account(url, organization, f"member-{i:03d}")
                seed_aws_account(account_id, users=users, secrets_per_region=secrets, regions=[REGION], seed=seed + i, hostile=False)
            member_ids = [a for n, a in organization.accounts.items() if n.startswith("member-")]

            with throwaway_database("bench_organization"):
                actor = User.objects.create_superuser("bench", "bench@example.org", "bench-password-not-used")
                source = source_create(
                    actor=actor,
                    name="bench organisation",
                    kind="aws_organization",
                    role_arn=f"arn:aws:iam::{organization.management_account}:role/{ROLE}",
                    member_role_name=ROLE,
                    regions=[REGION],
                    exclude_ids=[organization.management_account],  # members only, as the bare loop reads
                )
                (run, calls), first_wall, first_cpu = _timed(lambda: collect(actor, [source]))
                discovery = CollectionUnit.objects.get(run=run, source=source)
                units = CollectionUnit.objects.filter(run=run).count()
                failed = CollectionUnit.objects.filter(run=run, status="failed").count()
                (bare_calls, bare_items), bare_wall, bare_cpu = _timed(lambda: self._bare(url, member_ids))
                (repeat, repeat_calls), repeat_wall, repeat_cpu = _timed(lambda: collect(actor, [source]))
                repeat_discovery = CollectionUnit.objects.get(run=repeat, source=source)
                figures = {
                    "accounts": accounts,
                    "users_per_account": users,
                    "secrets_per_account": secrets,
                    "discovery_seconds": discovery.counts.get("seconds"),
                    "discovery_api_calls": discovery.api_calls,
                    "first": {"status": run.status, "units": units, "failed_units": failed, "wall_s": first_wall, "cpu_s": first_cpu},
                    "first_api_calls": sum(calls.values()),
                    "bare_sdk": {"wall_s": bare_wall, "cpu_s": bare_cpu, "api_calls": sum(bare_calls.values()), "items": bare_items},
                    "ratio_wall": round(first_wall / bare_wall, 2) if bare_wall else None,
                    "ratio_cpu": round(first_cpu / bare_cpu, 2) if bare_cpu else None,
                    "repeat": {
                        "status": repeat.status,
                        "wall_s": repeat_wall,
                        "cpu_s": repeat_cpu,
                        "api_calls": sum(repeat_calls.values()),
                        "discovery_seconds": repeat_discovery.counts.get("seconds"),
                    },
                    "load_before": [round(x, 2) for x in load_before],
                    "load_after": [round(x, 2) for x in os.getloadavg()],
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                }
        finally:
            server.stop()
        self._print(figures)
        if json:
            with open(json, "w", encoding="utf-8") as handle:
                jsonlib.dump(figures, handle, indent=2)

    @staticmethod
    def _bare(url: str, member_ids: list[str]) -> tuple[Counter, dict]:
        import boto3

        from apps.devtools.simulators.bare_sdk import read_account

        calls: Counter = Counter()
        items: Counter = Counter()
        sts = boto3.client("sts", endpoint_url=url, region_name="us-east-1")
        creds = sts.assume_role(RoleArn=f"arn:aws:iam::123456789012:role/{ROLE}", RoleSessionName="bare-sdk")["Credentials"]
        org = boto3.client(
            "organizations",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )
        org.describe_organization()
        listed = [
            a["Id"] for page in org.get_paginator("list_accounts").paginate(PaginationConfig={"PageSize": 20}) for a in page["Accounts"]
        ]
        calls.update({"AssumeRole": 1, "DescribeOrganization": 1})
        for account_id in (a for a in listed if a in member_ids):
            items.update(read_account(aws_url=url, account_id=account_id, role_name=ROLE, regions=[REGION], concurrency=4, calls=calls))
        return calls, dict(items)

    def _print(self, f: dict) -> None:
        w = self.stdout.write
        w(f"organisation of {f['accounts']} member accounts ({f['users_per_account']} users, {f['secrets_per_account']} secrets each)")
        w(
            f"  discovery unit           {f['discovery_seconds']} s first (registering the members), "
            f"{f['repeat']['discovery_seconds']} s repeat  {f['discovery_api_calls']}"
        )
        first, bare, repeat = f["first"], f["bare_sdk"], f["repeat"]
        w(
            f"  first collection         {first['wall_s']} s wall, {first['cpu_s']} CPU-s, {first['units']} units ({first['failed_units']} failed), {first['status']}, {f['first_api_calls']} API calls"
        )
        w(f"  bare SDK, same calls     {bare['wall_s']} s wall, {bare['cpu_s']} CPU-s, {bare['api_calls']} API calls")
        verdict = "within" if (f["ratio_wall"] or 99) <= RATIO_LIMIT else "OVER"
        w(f"  ratio                    {f['ratio_wall']}x wall, {f['ratio_cpu']}x CPU ({verdict} the {RATIO_LIMIT}x target)")
        w(
            f"  repeat collection        {repeat['wall_s']} s wall, {repeat['cpu_s']} CPU-s, {repeat['status']}, {repeat['api_calls']} API calls"
        )
        w(f"  load average             before {f['load_before']}, after {f['load_after']} on {f['cpus']} CPUs")
