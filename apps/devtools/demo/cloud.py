"""The demo's simulated cloud: two AWS accounts on moto's server, two Key Vaults on the
local HTTPS simulator and an Entra ID tenant on the local Graph simulator, all in this process, seeded with a realistic organisation (the
production account also holds every other AWS credential kind: SSH keys, service-specific
credentials, signing and server certificates, SSM parameters); and an Azure subscription on the
Resource Manager simulator, whose four vaults keytrail discovers.

Fixed ports keep the registered sources' vault URLs valid across demo restarts; set
KEYTRAIL_DEMO_AWS_PORT / KEYTRAIL_DEMO_VAULT_PORTS / KEYTRAIL_DEMO_GRAPH_PORT if they are taken.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings

PROD_ACCOUNT = "123456789012"
SANDBOX_ACCOUNT = "210987654321"
REGIONS = ["eu-west-1", "us-east-1"]
VAULTS = [("kv-northwind-prod", 90), ("kv-northwind-payments", 40)]
# A vault whose access policy does not admit keytrail: its collection fails every time, which
# shows how a failed source is reported (run partial, coverage failing) without losing the rest.
REFUSING_VAULT = "kv-northwind-legacy"
# The AWS Organization (managed from the production account): three member accounts, the
# last of which has no keytrail role, so assuming it is refused and its account shows failed.
ORG_MEMBERS = ["Northwind data platform", "Northwind payments", "Northwind legacy (no keytrail role)"]
ORG_REFUSING_MEMBER = ORG_MEMBERS[-1]
ORG_REGIONS = ["eu-west-1"]
# The Azure subscription (vault discovery through Resource Manager, issue #17): four vaults, the
# last of which refuses keytrail on its data plane, so it shows "auth_refused" by name.
AZURE_SUBSCRIPTION = "5e1f0c2a-7d3b-4c8e-9a61-2b4d6f8a0c13"
AZURE_SUBSCRIPTION_VAULTS = ["kv-nw-orders", "kv-nw-identity", "kv-nw-analytics", "kv-nw-archive"]
AZURE_SUBSCRIPTION_REFUSING_VAULT = AZURE_SUBSCRIPTION_VAULTS[-1]


@dataclass
class DemoCloud:
    aws_url: str
    vault_urls: dict[str, str] = field(default_factory=dict)
    servers: list = field(default_factory=list)
    org_accounts: dict[str, str] = field(default_factory=dict)  # member name -> account id
    subscription_ids: list[str] = field(default_factory=list)  # the Azure subscription source's
    subscription_vault_urls: dict[str, str] = field(default_factory=dict)  # discovered vaults, name -> URL
    graph_url: str = ""  # the Entra ID tenant's simulated Microsoft Graph (apps/devtools/demo/entra.py)

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


def _ports() -> tuple[int, list[int]]:
    aws = int(os.environ.get("KEYTRAIL_DEMO_AWS_PORT", "4566"))
    vaults = [int(p) for p in os.environ.get("KEYTRAIL_DEMO_VAULT_PORTS", "4601,4602,4603").split(",")]
    return aws, vaults


def start_demo_cloud(*, seed: int = 2026, now: datetime | None = None, users: int = 260) -> DemoCloud:
    """Start and seed the simulators and point keytrail's AWS and Azure settings at them."""
    from apps.devtools.simulators.aws import start_moto_server
    from apps.devtools.simulators.identity_controls import seed_identity_controls
    from apps.devtools.simulators.key_vault import KeyVaultSimulator
    from apps.devtools.simulators.more_kinds import seed_more_kinds
    from apps.devtools.simulators.organisation import seed_aws_account, seed_vault
    from apps.devtools.simulators.secret_access import seed_secret_access_and_logging
    from apps.devtools.simulators.vault_items import seed_vault_items

    # Dates are relative to today's midnight, so restarting the demo the same day reproduces
    # exactly the same cloud and a repeat collection finds nothing changed.
    now = now or datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    aws_port, vault_ports = _ports()
    # Base credentials for moto only; every source is reached by assuming its role.
    for name, value in {
        "AWS_ACCESS_KEY_ID": "demo",
        "AWS_SECRET_ACCESS_KEY": "demo",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        os.environ.setdefault(name, value)
    try:
        server, url = start_moto_server(port=aws_port)
    except OSError as exc:
        raise RuntimeError(f"cannot start the simulated AWS on 127.0.0.1:{aws_port} ({exc}); set KEYTRAIL_DEMO_AWS_PORT") from exc
    os.environ["AWS_ENDPOINT_URL"] = url
    settings.AWS_ENDPOINT_URL = url
    cloud = DemoCloud(aws_url=url, servers=[server])
    seed_aws_account(PROD_ACCOUNT, users=users, secrets_per_region=30, regions=REGIONS, seed=seed, now=now)
    seed_aws_account(
        SANDBOX_ACCOUNT,
        users=max(10, users // 5),
        secrets_per_region=12,
        regions=REGIONS[:1],
        seed=seed + 1,
        now=now,
        weak_password_policy=True,
        root_mfa=False,
        root_access_key=True,
    )
    # SSH keys, service-specific credentials, signing and server certificates, SSM parameters.
    seed_more_kinds(PROD_ACCOUNT, regions=REGIONS, seed=seed, now=now)
    # 9.2.4.07 and 9.2.4.18: trails, secrets' resource policies, a role that may read every secret.
    seed_secret_access_and_logging(url, good_account=PROD_ACCOUNT, weak_account=SANDBOX_ACCOUNT, region=REGIONS[0])

    _seed_organization(cloud, seed=seed, now=now)
    # Break-glass, third-party, new-starter and single sign-on cases: a pass and a fail per rule.
    seed_identity_controls(
        PROD_ACCOUNT, sandbox=SANDBOX_ACCOUNT, few_passwords=cloud.org_accounts[ORG_MEMBERS[1]], region=REGIONS[0], now=now
    )

    for (name, count), port in zip([*VAULTS, (REFUSING_VAULT, 5)], vault_ports, strict=True):
        vault = KeyVaultSimulator(name, port=port)
        try:
            vault.start()
        except OSError as exc:
            cloud.stop()
            raise RuntimeError(
                f"cannot start the simulated vault {name} on 127.0.0.1:{port} ({exc}); set KEYTRAIL_DEMO_VAULT_PORTS"
            ) from exc
        seed_vault(vault, count, seed=seed + port, now=now)
        seed_vault_items(vault, seed=seed + port, now=now)  # keys and certificates
        vault.refuse_tokens = name == REFUSING_VAULT
        cloud.servers.append(vault)
        cloud.vault_urls[name] = vault.url
        settings.AZURE_CONNECTION_VERIFY = vault.ca_path
    settings.AZURE_CREDENTIAL_CLASS = "apps.devtools.simulators.key_vault.SimulatorCredential"
    settings.AZURE_VERIFY_CHALLENGE_RESOURCE = False  # the simulator is not *.vault.azure.net
    _seed_azure_subscription(cloud, seed=seed, now=now)
    _start_entra(cloud, now=now)
    return cloud


def _seed_azure_subscription(cloud: DemoCloud, *, seed: int, now: datetime) -> None:
    """Resource Manager with one subscription of four vaults (issue #17): their settings vary so
    the vault-level rules both pass and fail, and the last refuses keytrail's token. Fixed ports
    (KEYTRAIL_DEMO_ARM_PORTS: Resource Manager, then the four vaults) keep their URLs, and so the
    discovered member sources, stable across restarts."""
    from apps.devtools.simulators.arm import ArmSimulator
    from apps.devtools.simulators.key_vault import KeyVaultSimulator
    from apps.devtools.simulators.organisation import seed_vault
    from apps.devtools.simulators.vault_items import seed_vault_items

    ports = [int(p) for p in os.environ.get("KEYTRAIL_DEMO_ARM_PORTS", "4604,4605,4606,4607,4608").split(",")]
    arm = ArmSimulator(port=ports[0])
    try:
        arm.start()
    except OSError as exc:
        cloud.stop()
        raise RuntimeError(
            f"cannot start the simulated Resource Manager on 127.0.0.1:{ports[0]} ({exc}); set KEYTRAIL_DEMO_ARM_PORTS"
        ) from exc
    cloud.servers.append(arm)
    arm.add_subscription(AZURE_SUBSCRIPTION, display_name="Northwind production (Azure)")
    # name: (secrets, vault-level settings); the first passes both vault rules.
    shapes = {
        "kv-nw-orders": (20, {"secret_get_principals": ("orders-api", "orders-worker")}),
        "kv-nw-identity": (12, {"purge_protection": None, "secret_get_principals": tuple(f"team-{i}" for i in range(8))}),
        "kv-nw-analytics": (15, {"public_network_access": "Enabled", "network_default_action": "Allow", "rbac_authorization": True}),
        "kv-nw-archive": (5, {"soft_delete_retention_days": 7}),
    }
    for (name, (count, properties)), port in zip(shapes.items(), ports[1:], strict=True):
        vault = KeyVaultSimulator(name, port=port)
        try:
            vault.start()
        except OSError as exc:
            cloud.stop()
            raise RuntimeError(f"cannot start the simulated vault {name} on 127.0.0.1:{port} ({exc}); set KEYTRAIL_DEMO_ARM_PORTS") from exc
        seed_vault(vault, count, seed=seed + port, now=now)
        seed_vault_items(vault, seed=seed + port, now=now, hostile=False)  # keys and certificates (kvitems)
        vault.refuse_tokens = name == AZURE_SUBSCRIPTION_REFUSING_VAULT
        cloud.servers.append(vault)
        arm.add_vault(
            AZURE_SUBSCRIPTION, name, vault_url=vault.url, tags={"env": "prod", "owner": "platform@northwind.example"}, **properties
        )
        cloud.subscription_vault_urls[name] = vault.url
    # Azure RBAC on the analytics vault: three secret readers at the subscription, one on the vault;
    # audit logs sent to a workspace from every vault but the identity one.
    from apps.devtools.simulators.arm import KEY_VAULT_SECRETS_OFFICER, KEY_VAULT_SECRETS_USER, READER

    for i in range(3):
        arm.add_role_assignment(
            AZURE_SUBSCRIPTION, f"0000000{i}-5e1f-4c8e-9a61-2b4d6f8a0c13", KEY_VAULT_SECRETS_USER, principal_type="Group"
        )
    analytics = f"/subscriptions/{AZURE_SUBSCRIPTION}/resourceGroups/rg-keytrail/providers/Microsoft.KeyVault/vaults/kv-nw-analytics"
    arm.add_role_assignment(AZURE_SUBSCRIPTION, "0000000a-5e1f-4c8e-9a61-2b4d6f8a0c13", KEY_VAULT_SECRETS_OFFICER, scope=analytics)
    arm.add_role_assignment(AZURE_SUBSCRIPTION, "0000000b-5e1f-4c8e-9a61-2b4d6f8a0c13", READER)
    for name in AZURE_SUBSCRIPTION_VAULTS:
        if name != "kv-nw-identity":
            arm.send_audit_logs(AZURE_SUBSCRIPTION, name)
    cloud.subscription_ids = [AZURE_SUBSCRIPTION]
    settings.AZURE_RESOURCE_MANAGER_URL = arm.url


def _start_entra(cloud: DemoCloud, *, now: datetime) -> None:
    """The Entra ID tenant (Graph simulator; same certificate and credential as the vaults)."""
    from apps.devtools.demo.entra import start_demo_graph

    try:
        graph = start_demo_graph(now=now)
    except RuntimeError:
        cloud.stop()
        raise
    cloud.servers.append(graph)
    cloud.graph_url = graph.url


def _seed_organization(cloud: DemoCloud, *, seed: int, now: datetime) -> None:
    """The AWS Organization and its members' data; keytrail reaches moto through a fault proxy
    that refuses AssumeRole into the legacy member (moto itself would let any role be assumed)."""
    from moto.moto_api._internal import mock_random

    from apps.devtools.simulators.aws_organization import add_account, create_organization
    from apps.devtools.simulators.faults import FaultProxy
    from apps.devtools.simulators.organisation import seed_aws_account

    mock_random.seed(seed + 7)  # the same member account ids at every demo start
    organization = create_organization(cloud.aws_url)
    for i, name in enumerate(ORG_MEMBERS):
        account_id = add_account(cloud.aws_url, organization, name, ou="workloads")
        cloud.org_accounts[name] = account_id
        seed_aws_account(account_id, users=12, secrets_per_region=6, regions=ORG_REGIONS, seed=seed + 10 + i, now=now, hostile=i == 0)
    proxy = FaultProxy(cloud.aws_url).start()
    proxy.inject(
        "error",
        match="AssumeRole",
        times=None,
        status=403,
        code="AccessDenied",
        message=f"User is not authorized to perform sts:AssumeRole on the keytrail role of {ORG_REFUSING_MEMBER}",
        body=cloud.org_accounts[ORG_REFUSING_MEMBER].encode(),
    )
    cloud.servers.append(proxy)
    os.environ["AWS_ENDPOINT_URL"] = proxy.url
    settings.AWS_ENDPOINT_URL = proxy.url
