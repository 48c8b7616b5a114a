"""Benchmark the Entra ID connector against a bare HTTPS loop over the same Graph simulator.

    python manage.py bench_entra --apps 200 --repeat 5

Seeds ``--apps`` app registrations (one client secret and one certificate each, one owner)
on a local Graph simulator and times, ``--repeat`` times each, alternating:

* **connector**: ``EntraConnector.collect`` (azure-core pipeline, bearer policy, retry
  policy, call policy, records built and validated);
* **bare**: a plain ``requests`` session sending the same two listings with the same
  ``$select``/``$expand``/``$top`` and following ``@odata.nextLink``, parsing the JSON and
  nothing else (the least any client could do).

Prints the median of each and their ratio (the issue's target: connector ≤ 1.5 × bare).
No database is used.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from apps.connectors.azure.entra.connector import APPLICATION_FIELDS, OWNER_FIELDS, PAGE_SIZE, SERVICE_PRINCIPAL_FIELDS
from apps.connectors.base import Target
from apps.connectors.registry import get_connector
from apps.devtools.simulators.graph import GraphSimulator
from apps.devtools.simulators.key_vault import SIMULATOR_TOKEN, certificate_paths


def bare_read(graph_url: str, ca_path: str) -> int:
    """Items read by the plainest client: GET, follow nextLink, parse JSON."""
    import requests

    items = 0
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {SIMULATOR_TOKEN}"
        for path, fields in (("/v1.0/applications", APPLICATION_FIELDS), ("/v1.0/servicePrincipals", SERVICE_PRINCIPAL_FIELDS)):
            url: Any = f"{graph_url}{path}"
            params: Any = {"$select": fields, "$expand": f"owners($select={OWNER_FIELDS})", "$top": PAGE_SIZE}
            while url:
                body = session.get(url, params=params, verify=ca_path, timeout=30).json()
                items += sum(len(i.get("passwordCredentials") or []) + len(i.get("keyCredentials") or []) for i in body["value"])
                url, params = body.get("@odata.nextLink"), None
    return items


class Command(BaseCommand):
    help = "Time the Entra ID connector against a bare HTTPS loop over the Graph simulator (no database)."

    def add_arguments(self, parser):
        parser.add_argument("--apps", type=int, default=200)
        parser.add_argument("--repeat", type=int, default=5)

    def handle(self, *args, apps: int, repeat: int, **options):
        ca_path = certificate_paths()[0]
        settings.AZURE_CREDENTIAL_CLASS = "apps.devtools.simulators.key_vault.SimulatorCredential"
        settings.AZURE_CONNECTION_VERIFY = ca_path
        graph = GraphSimulator().start()
        try:
            graph.seed(apps)
            target = Target(kind="entra_id", source_key=graph.tenant_id, graph_tenant_id=graph.tenant_id, graph_url=graph.url)
            timings: dict[str, list[float]] = {"connector": [], "bare": []}
            counts: dict[str, int] = {}
            for _ in range(repeat):
                started = time.perf_counter()
                result = get_connector("entra_id").collect(target)
                timings["connector"].append(time.perf_counter() - started)
                counts["connector"] = len(result.credentials)
                started = time.perf_counter()
                counts["bare"] = bare_read(graph.url, ca_path)
                timings["bare"].append(time.perf_counter() - started)
        finally:
            graph.stop()
        connector, bare = statistics.median(timings["connector"]), statistics.median(timings["bare"])
        self.stdout.write(f"{apps} app registrations, {counts['connector']} credentials, {repeat} runs each (medians)")
        self.stdout.write(f"  connector  {connector * 1000:8.1f} ms   api calls {dict(result.api_calls)}")
        self.stdout.write(f"  bare HTTPS {bare * 1000:8.1f} ms   credentials read {counts['bare']}")
        self.stdout.write(f"  ratio      {connector / bare:8.2f} x (target ≤ 1.5)")
