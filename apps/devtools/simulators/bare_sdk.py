"""The bare-SDK comparison row of the scale benchmark: plain boto3 / azure-keyvault-secrets
loops that read the same data keytrail's connectors need on a first collection, with no
keytrail code in between (no records, no state, no database).

Per AWS account: AssumeRole, the credential report (generate + get), account authorization
details, assigned virtual MFA devices, the password policy, the account summary,
ListAccessKeys for every user the report shows with a key (on ``concurrency`` threads,
as the connector does), and ListSecrets in every region. Per vault: every secret's
properties and every secret's versions (the connector lists versions of new secrets).
Never a secret value.
"""

from __future__ import annotations

import csv
import io
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def _count_boto(client: Any, calls: Counter, lock: threading.Lock) -> Any:
    def count(model: Any, **_: Any) -> None:
        with lock:
            calls[model.name] += 1

    client.meta.events.register("before-call", count)
    return client


def read_account(*, aws_url: str, account_id: str, role_name: str, regions: list[str], concurrency: int, calls: Counter) -> dict[str, int]:
    """Read one account the way a hand-written script would; returns item counts."""
    import boto3

    from apps.connectors.aws.ssm import secret_name_match

    lock = threading.Lock()
    sts = _count_boto(boto3.client("sts", endpoint_url=aws_url, region_name="us-east-1"), calls, lock)
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/{role_name}", RoleSessionName="bare-sdk")["Credentials"]
    session = boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name="us-east-1",
    )
    iam = _count_boto(session.client("iam", endpoint_url=aws_url), calls, lock)

    while iam.generate_credential_report()["State"] != "COMPLETE":
        time.sleep(0.1)
    report = list(csv.DictReader(io.StringIO(iam.get_credential_report()["Content"].decode())))
    users = []
    # 1,000 entries a page, as the connector asks (the simulated IAM pages like AWS: 100 by default).
    details = iam.get_paginator("get_account_authorization_details")
    for page in details.paginate(Filter=["User", "Group", "LocalManagedPolicy"], PaginationConfig={"PageSize": 1000}):
        users += page.get("UserDetailList") or []
    mfa = [
        d
        for page in iam.get_paginator("list_virtual_mfa_devices").paginate(AssignmentStatus="Assigned")
        for d in page.get("VirtualMFADevices") or []
    ]
    iam.get_account_password_policy()
    iam.get_account_summary()

    with_keys = [
        row["user"]
        for row in report
        if row["user"] != "<root_account>"
        and (row.get("access_key_1_last_rotated") not in ("N/A", None) or row.get("access_key_2_last_rotated") not in ("N/A", None))
    ]

    def keys_of(name: str) -> int:
        return sum(len(page["AccessKeyMetadata"]) for page in iam.get_paginator("list_access_keys").paginate(UserName=name))

    # The other IAM credential kinds, as keytrail reads them: SSH keys and service-specific
    # credentials of every user, signing certificates of users whose report row shows one.
    with_certs = [
        row["user"]
        for row in report
        if row["user"] != "<root_account>"
        and (
            row.get("cert_1_active") == "true" or row.get("cert_2_active") == "true" or row.get("cert_1_last_rotated") not in ("N/A", None)
        )
    ]
    names = [u["UserName"] for u in users]

    def others_of(name: str) -> int:
        ssh = sum(len(page["SSHPublicKeys"]) for page in iam.get_paginator("list_ssh_public_keys").paginate(UserName=name))
        return ssh + len(iam.list_service_specific_credentials(UserName=name)["ServiceSpecificCredentials"])

    def certs_of(name: str) -> int:
        return sum(len(page["Certificates"]) for page in iam.get_paginator("list_signing_certificates").paginate(UserName=name))

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        keys = sum(pool.map(keys_of, with_keys))
        others = sum(pool.map(others_of, names)) + sum(pool.map(certs_of, with_certs))
    others += sum(len(p["ServerCertificateMetadataList"]) for p in iam.get_paginator("list_server_certificates").paginate())

    secrets = parameters = 0
    for region in regions:
        sm = _count_boto(session.client("secretsmanager", endpoint_url=aws_url, region_name=region), calls, lock)
        for page in sm.get_paginator("list_secrets").paginate(IncludePlannedDeletion=True, PaginationConfig={"PageSize": 100}):
            secrets += len(page.get("SecretList") or [])
        ssm = _count_boto(session.client("ssm", endpoint_url=aws_url, region_name=region), calls, lock)
        secure = [
            p["Name"]
            for page in ssm.get_paginator("describe_parameters").paginate(PaginationConfig={"PageSize": 50})
            for p in page.get("Parameters") or []
            if p.get("Type") == "SecureString" or secret_name_match(p["Name"])  # the parameters keytrail keeps
        ]
        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            list(pool.map(lambda name: ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name), secure))  # noqa: B023
        parameters += len(secure)
    return {
        "report_rows": len(report),
        "users": len(users),
        "virtual_mfa": len(mfa),
        "access_keys": keys,
        "other_iam_credentials": others,
        "secrets": secrets,
        "ssm_parameters": parameters,
    }


def read_vault(*, vault_url: str, ca_path: str, calls: Counter) -> dict[str, int]:
    """Every secret's properties and versions in one vault; returns item counts."""
    from azure.keyvault.secrets import SecretClient

    from apps.devtools.simulators.key_vault import SimulatorCredential

    def count(request: Any) -> None:
        path = request.http_request.url.split("?", 1)[0]
        calls["list_properties_of_secret_versions" if path.endswith("/versions") else "list_properties_of_secrets"] += 1

    client = SecretClient(
        vault_url=vault_url,
        credential=SimulatorCredential(),
        verify_challenge_resource=False,
        connection_verify=ca_path,
        raw_request_hook=count,
    )
    secrets = versions = 0
    with client:
        for props in client.list_properties_of_secrets():
            secrets += 1
            versions += sum(1 for _ in client.list_properties_of_secret_versions(props.name))
    return {"vault_secrets": secrets, "vault_versions": versions}


def read_organisation(org: Any, *, concurrency: int) -> tuple[Counter, dict[str, int]]:
    """Read every account and vault of a :class:`~apps.devtools.simulators.scale.SimulatedOrganisation`.

    Returns (API calls by operation, item counts)."""
    from apps.devtools.simulators.scale import ROLE_NAME

    calls: Counter = Counter()
    items: Counter = Counter()
    for account in org.accounts:
        items.update(
            read_account(
                aws_url=org.aws_url,
                account_id=account["account_id"],
                role_name=ROLE_NAME,
                regions=list(org.spec.regions),
                concurrency=concurrency,
                calls=calls,
            )
        )
    for vault in org.vaults.values():
        items.update(read_vault(vault_url=vault["url"], ca_path=org.ca_path, calls=calls))
    return calls, dict(items)
