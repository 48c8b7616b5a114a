"""The demo's Entra ID tenant: a dozen app registrations and a vendor's service principal on the
local Graph simulator, each showing one rule passing or failing.

Kept apart from the AWS and Key Vault seeding (``cloud.py``) so the Azure estate's other
parts can grow beside it. Ids are derived from names and dates from today's midnight, so a
restarted demo serves the same tenant and a repeat collection finds nothing changed.
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timedelta
from typing import Any

from apps.devtools.simulators.graph import GraphSimulator, key_credential, password_credential

DEMO_TENANT_ID = "5e1f0c2a-7b3d-4c8e-9a61-2d4f8b0c6e17"
# A software vendor's tenant: its application is consented into ours and holds a secret we issued.
VENDOR_TENANT_ID = "9d3b7e21-4c6a-4f0b-8e5d-1a2b3c4d5e6f"
_NS = uuid.UUID("6f1c2d3e-0000-4000-8000-00000000e17a")


def _id(*parts: str) -> str:
    return str(uuid.uuid5(_NS, "/".join(parts)))


def start_demo_graph(*, now: datetime) -> GraphSimulator:
    """Start the demo tenant's Graph on KEYTRAIL_DEMO_GRAPH_PORT (default 4611) and seed it."""
    port = int(os.environ.get("KEYTRAIL_DEMO_GRAPH_PORT", "4611"))
    graph = GraphSimulator(DEMO_TENANT_ID, port=port)
    try:
        graph.start()
    except OSError as exc:
        raise RuntimeError(f"cannot start the simulated Microsoft Graph on 127.0.0.1:{port} ({exc}); set KEYTRAIL_DEMO_GRAPH_PORT") from exc
    seed_demo_tenant(graph, now=now)
    return graph


def seed_demo_tenant(graph: GraphSimulator, *, now: datetime) -> None:
    """Twelve app registrations (a two-year client secret, an expired one, an ownerless app, an
    app with two live secrets, a hostile display name...) and one foreign-tenant service principal."""

    def secret(app: str, label: str, *, started: int, days: int) -> dict[str, Any]:
        return password_credential(label, start=now - timedelta(days=started), days=days, key_id=_id(app, "secret", label))

    def cert(app: str, label: str, *, started: int, days: int) -> dict[str, Any]:
        return key_credential(label, start=now - timedelta(days=started), days=days, key_id=_id(app, "cert", label))

    def app(name: str, *, owners: list[str], passwords=(), keys=(), created: int = 500) -> None:
        graph.add_application(
            name,
            owners=owners,
            passwords=list(passwords),
            keys=list(keys),
            created=now - timedelta(days=created),
            id=_id(name, "object"),
            appId=_id(name, "app"),
        )

    rosa, grace, arjun, mei = (f"{u}@northwind.example" for u in ("rosa", "grace", "arjun", "mei"))
    # Fails entra-secret-lifetime-too-long: created with the portal's longest choice, two years.
    app("northwind-payments-api", owners=[rosa], passwords=[secret("payments", "prod deploy", started=30, days=730)])
    # Fails entra-credential-expired-present: the old secret ended 20 days ago and is still there.
    app(
        "northwind-billing-worker",
        owners=[rosa],
        passwords=[
            secret("billing", "2026 H1", started=200, days=180),
            secret("billing", "2026 H2", started=15, days=180),
        ],
    )
    # Fails entra-app-no-owner: nobody answers for it; its credentials go to the fallback reviewer.
    app("legacy-reporting", owners=[], passwords=[secret("legacy", "reporting", started=60, days=180)])
    # Fails entra-app-multiple-secrets: a rotation started and never finished.
    app(
        "ci-deployer",
        owners=[grace],
        passwords=[secret("ci", "old", started=100, days=180), secret("ci", "new", started=10, days=180)],
    )
    # Pass: certificates and short-lived secrets with owners.
    app("hr-directory-sync", owners=[arjun], keys=[cert("hr", "CN=hr-directory-sync", started=40, days=365)])
    app("data-export", owners=[mei], passwords=[secret("export", "nightly", started=20, days=90)])
    app("partner-portal", owners=[rosa, grace], passwords=[secret("partner", "portal", started=5, days=180)])
    app(
        "mobile-backend",
        owners=[grace],
        passwords=[secret("mobile", "api", started=50, days=120)],
        keys=[cert("mobile", "CN=mobile-backend", started=50, days=365)],
    )
    app("analytics-etl", owners=[mei], passwords=[secret("etl", "warehouse", started=12, days=60)])
    app("monitoring-agent", owners=[arjun], keys=[cert("monitoring", "CN=monitoring-agent", started=300, days=730)])
    # A display name from the bad-input corpus: rendered as text everywhere (page, XLSX, PDF).
    app('=HYPERLINK("http://evil.example","<b>finance</b>")', owners=[mei], passwords=[secret("hostile", "finance", started=3, days=30)])
    # No credentials at all: listed, judged by nothing.
    app("sso-test-app", owners=[grace])

    # Fails entra-foreign-app-credential-age: a vendor's application, a secret we added 150 days ago.
    graph.add_service_principal(
        "Contoso payroll connector",
        app_owner_organization_id=VENDOR_TENANT_ID,
        owners=[arjun],
        passwords=[secret("contoso", "payroll feed", started=150, days=365)],
        id=_id("contoso", "sp"),
        appId=_id("contoso", "app"),
    )
    # Microsoft's own first-party principals hold no credentials of ours: skipped by the connector.
    graph.add_service_principal(
        "Microsoft Graph", app_owner_organization_id="f8cdef31-a31e-4b4a-93e4-5f571e91255a", id=_id("msgraph", "sp")
    )
