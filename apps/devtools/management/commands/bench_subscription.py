"""Benchmark an Azure subscription source: vault discovery and collection against the bare SDK.

    DATABASE_URL=postgres://... python manage.py bench_subscription --vaults 30 --secrets 100 --json out.json

The Resource Manager simulator (``apps/devtools/simulators/arm.py``) with one subscription of
``--vaults`` vaults, each a Key Vault simulator with ``--secrets`` secrets, all over HTTPS in
this process. In a throwaway database:

1. **first collection** of one subscription source (Celery eager: every unit in this process,
   one after the other): the discovery unit (vault listing, role assignments, each vault's
   diagnostic settings), then each vault's Key Vault unit it spawned (secrets and their versions).
2. **bare SDK**: plain azure-mgmt-keyvault / azure-mgmt-authorization / azure-keyvault-secrets
   calls, the same requests, no keytrail code. Target: first collection ≤ 1.5 × bare SDK.
3. **repeat collection**: the same source again, nothing changed.

CPU seconds are this process's, simulators included (both sides pay them). The load average
before and after is printed with the figures.
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
SUBSCRIPTION = "0b3e5f2a-1c4d-4e6f-8a9b-0c1d2e3f4a5b"


def _timed(fn):
    wall, cpu = time.monotonic(), time.process_time()
    result = fn()
    return result, round(time.monotonic() - wall, 3), round(time.process_time() - cpu, 3)


class Command(BaseCommand):
    help = "Vault discovery and collection of an Azure subscription of N vaults against the bare-SDK loop (docs/benchmarks.md)."

    def add_arguments(self, parser):
        parser.add_argument("--vaults", type=int, default=30)
        parser.add_argument("--secrets", type=int, default=100)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--json", help="write the figures to this file")

    def handle(self, *args, vaults: int, secrets: int, seed: int, json: str | None, **options):
        from apps.accounts.models import User
        from apps.devtools.simulators.arm import KEY_VAULT_SECRETS_USER, ArmSimulator
        from apps.devtools.simulators.key_vault import KeyVaultSimulator, certificate_paths
        from apps.devtools.simulators.organisation import seed_vault
        from apps.inventory.models import CollectionUnit
        from apps.inventory.services.sources import source_create

        settings.AZURE_CREDENTIAL_CLASS = "apps.devtools.simulators.key_vault.SimulatorCredential"
        settings.AZURE_VERIFY_CHALLENGE_RESOURCE = False
        settings.AZURE_CONNECTION_VERIFY = certificate_paths()[0]
        settings.KEYTRAIL_EVALUATE_AFTER_COLLECTION = False
        arm = ArmSimulator().start()
        settings.AZURE_RESOURCE_MANAGER_URL = arm.url
        servers: list = [arm]
        load_before = os.getloadavg()
        try:
            arm.add_subscription(SUBSCRIPTION, display_name="bench")
            arm.add_role_assignment(SUBSCRIPTION, "bench-readers", KEY_VAULT_SECRETS_USER, principal_type="Group")
            urls: list[str] = []
            for i in range(vaults):
                vault = KeyVaultSimulator(f"bench-{i:03d}").start()
                servers.append(vault)
                seed_vault(vault, secrets, seed=seed + i, hostile=False)
                arm.add_vault(SUBSCRIPTION, f"bench-{i:03d}", vault_url=vault.url)
                arm.send_audit_logs(SUBSCRIPTION, f"bench-{i:03d}")
                urls.append(vault.url)

            with throwaway_database("bench_subscription"):
                actor = User.objects.create_superuser("bench", "bench@example.org", "bench-password-not-used")
                source = source_create(actor=actor, name="bench subscription", kind="azure_subscription", subscription_ids=[SUBSCRIPTION])
                (run, calls), first_wall, first_cpu = _timed(lambda: collect(actor, [source]))
                discovery = CollectionUnit.objects.get(run=run, source=source)
                units = CollectionUnit.objects.filter(run=run).count()
                failed = CollectionUnit.objects.filter(run=run, status="failed").count()
                (bare_calls, bare_items), bare_wall, bare_cpu = _timed(lambda: self._bare(urls, certificate_paths()[0]))
                (repeat, repeat_calls), repeat_wall, repeat_cpu = _timed(lambda: collect(actor, [source]))
                repeat_discovery = CollectionUnit.objects.get(run=repeat, source=source)
                figures = {
                    "vaults": vaults,
                    "secrets_per_vault": secrets,
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
            violations = [v for server in servers for v in server.violations]
            if violations:
                raise RuntimeError(f"the simulators saw requests keytrail must never send: {violations[:3]}")
        finally:
            for server in servers:
                server.stop()
        self._print(figures)
        if json:
            with open(json, "w", encoding="utf-8") as handle:
                jsonlib.dump(figures, handle, indent=2)

    @staticmethod
    def _bare(urls: list[str], ca_path: str) -> tuple[Counter, dict]:
        """The same requests with the SDKs alone: vaults, role assignments, diagnostic settings, secrets."""
        from azure.core.rest import HttpRequest
        from azure.mgmt.authorization import AuthorizationManagementClient
        from azure.mgmt.keyvault import KeyVaultManagementClient

        from apps.devtools.simulators.bare_sdk import read_vault
        from apps.devtools.simulators.key_vault import SimulatorCredential

        calls: Counter = Counter()
        items: Counter = Counter()
        base = settings.AZURE_RESOURCE_MANAGER_URL
        common = {"base_url": base, "credential_scopes": ["https://management.azure.com/.default"], "connection_verify": ca_path}
        credential = SimulatorCredential()

        def count(request) -> None:
            calls["arm"] += 1

        with KeyVaultManagementClient(credential, SUBSCRIPTION, raw_request_hook=count, **common) as kv:
            listed = list(kv.vaults.list_by_subscription())
            with AuthorizationManagementClient(credential, SUBSCRIPTION, raw_request_hook=count, **common) as auth:
                items["role_assignments"] += sum(1 for _ in auth.role_assignments.list_for_subscription())
            for vault in listed:
                url = f"{base}{vault.id}/providers/Microsoft.Insights/diagnosticSettings?api-version=2021-05-01-preview"
                response = kv.send_request(HttpRequest("GET", url))
                response.raise_for_status()
                items["diagnostic_settings"] += len(response.json().get("value") or [])
        items["vaults"] = len(listed)
        for vault in listed:
            items.update(read_vault(vault_url=vault.properties.vault_uri.rstrip("/"), ca_path=ca_path, calls=calls))
        return calls, dict(items)

    def _print(self, f: dict) -> None:
        w = self.stdout.write
        w(f"Azure subscription of {f['vaults']} vaults ({f['secrets_per_vault']} secrets each)")
        w(
            f"  discovery unit           {f['discovery_seconds']} s first (registering the vaults), "
            f"{f['repeat']['discovery_seconds']} s repeat  {f['discovery_api_calls']}"
        )
        first, bare, repeat = f["first"], f["bare_sdk"], f["repeat"]
        w(
            f"  first collection         {first['wall_s']} s wall, {first['cpu_s']} CPU-s, {first['units']} units "
            f"({first['failed_units']} failed), {first['status']}, {f['first_api_calls']} API calls"
        )
        w(f"  bare SDK, same calls     {bare['wall_s']} s wall, {bare['cpu_s']} CPU-s, {bare['api_calls']} API calls  {bare['items']}")
        verdict = "within" if (f["ratio_wall"] or 99) <= RATIO_LIMIT else "OVER"
        w(f"  ratio                    {f['ratio_wall']}x wall, {f['ratio_cpu']}x CPU ({verdict} the {RATIO_LIMIT}x target)")
        w(
            f"  repeat collection        {repeat['wall_s']} s wall, {repeat['cpu_s']} CPU-s, {repeat['status']}, {repeat['api_calls']} API calls"
        )
        w(f"  load average             before {f['load_before']}, after {f['load_after']} on {f['cpus']} CPUs")
