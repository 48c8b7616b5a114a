"""The AWS credential kinds besides passwords, access keys and Secrets Manager secrets, seeded
into moto's backends (and :mod:`.iam_extras`) for the demo and tests: IAM users' SSH public
keys, service-specific credentials and signing certificates, IAM server certificates, and SSM
Parameter Store parameters, each with the problems keytrail's rules look for.

Parameter *values* exist only because moto needs one; they are the canary and keytrail must
never read them.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from apps.devtools.simulators.aws import iam_backend
from apps.devtools.simulators.iam_extras import add_service_specific_credential, set_server_certificate_upload
from apps.devtools.simulators.organisation import HOSTILE_TAG_VALUES, SECRET_CANARY

SSH_KEY_BODY = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7vbqajDhA6d8fNmEXAMPLEONLYnotarealkeyXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX keytrail-demo"


def ssm_backend(account_id: str, region: str):  # noqa: ANN201 - moto type, imported lazily
    from moto.ssm.models import ssm_backends

    return ssm_backends[account_id][region]


def certificate_pem(*, not_after: datetime, not_before: datetime | None = None, common_name: str = "demo.example") -> tuple[str, str]:
    """A self-signed certificate valid until ``not_after``: ``(certificate PEM, private key PEM)``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    start = not_before or min(not_after - timedelta(days=1), datetime.now(UTC))
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM).decode(), private.decode()


def _naive(value: datetime) -> datetime:
    """moto keeps these dates naive (UTC)."""
    return value.astimezone(UTC).replace(tzinfo=None)


def put_parameter(
    account_id: str,
    region: str,
    name: str,
    *,
    secure: bool = True,
    modified: datetime | None = None,
    tags: dict[str, str] | None = None,
    tier: str = "Standard",
    policies: list | None = None,
    kms_key: str | None = None,
) -> None:
    """A parameter (value: the canary), backdated to ``modified``."""
    backend = ssm_backend(account_id, region)
    backend.put_parameter(
        name=name,
        description="",
        value=SECRET_CANARY,
        parameter_type="SecureString" if secure else "String",
        allowed_pattern=None,
        keyid=kms_key,
        overwrite=False,
        tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()],
        data_type="text",
        tier=tier,
        policies=json.dumps(policies) if policies is not None else None,
    )
    if modified is not None:
        # Moto's own model of the parameter's newest version (a list per name): only its date is
        # set, as the simulated cloud's metadata; no value is read here or anywhere in keytrail.
        backend._parameters[name][-1].last_modified_date = _naive(modified)


@dataclass
class MoreKindsSeed:
    ssh_keys: int = 0
    service_credentials: int = 0
    signing_certificates: int = 0
    server_certificates: int = 0
    parameters: dict[str, int] = field(default_factory=dict)  # region -> SecureString + secret-named String


def seed_more_kinds(account_id: str, *, regions: list[str], seed: int, now: datetime | None = None, hostile: bool = True) -> MoreKindsSeed:
    """Seed the other kinds into an account whose IAM users exist already (``seed_aws_account``).

    SSH keys and a service-specific credential on service users (one key years old), an active
    signing certificate on a person, two server certificates (one expiring in 12 days, one
    valid for a year), and per region SecureString parameters (some stale without an
    Expiration policy, one with it, one with NoChangeNotification, some without owner), one
    plaintext String parameter whose name says it is a password, and ordinary String ones.
    """
    now = now or datetime.now(UTC)
    rng = random.Random(seed)
    backend = iam_backend(account_id)
    people = sorted(n for n, u in backend.users.items() if u.password)
    services = sorted(n for n, u in backend.users.items() if not u.password)
    out = MoreKindsSeed()
    for i, name in enumerate(services[:4]):
        key = backend.upload_ssh_public_key(name, SSH_KEY_BODY.replace("keytrail-demo", f"{name}-{i}"))
        key.upload_date = _naive(now - timedelta(days=(800 if i == 0 else rng.randint(10, 200))))
        out.ssh_keys += 1
    if services:
        add_service_specific_credential(account_id, services[0], "codecommit.amazonaws.com", created=now - timedelta(days=140))
        add_service_specific_credential(account_id, services[-1], "cassandra.amazonaws.com", created=now - timedelta(days=20))
        out.service_credentials += 2
    if people:
        body, _ = certificate_pem(not_after=now + timedelta(days=300), common_name=f"{people[0]}.signing")
        signing = backend.upload_signing_certificate(people[0], body)
        signing.upload_date = _naive(now - timedelta(days=65))
        out.signing_certificates += 1
    for cert_name, days_left, age in (("northwind-web-2026", 12, 353), ("northwind-api", 300, 65)):
        body, private = certificate_pem(not_after=now + timedelta(days=days_left), not_before=now - timedelta(days=age))
        backend.upload_server_certificate(cert_name, body, private)
        set_server_certificate_upload(account_id, cert_name, now - timedelta(days=age))
        out.server_certificates += 1

    for region in regions:
        count = 0
        for i in range(8):
            team = rng.choice(("payments", "platform", "data", "web"))
            tags = {"class": "database"} if i % 4 == 0 else {}
            if rng.random() < 0.7:
                tags["owner"] = f"{team}-team@example.com"
            if rng.random() < 0.5:
                tags["request-ref"] = f"REQ-{rng.randint(1000, 99999)}"
            if hostile and i == 0:
                tags["note"] = rng.choice(HOSTILE_TAG_VALUES)
            put_parameter(
                account_id,
                region,
                f"/northwind/{team}/app-secret-{i:02d}",
                modified=now - timedelta(days=rng.choice((5, 30, 75, 140, 400))),
                tags=tags,
                kms_key="alias/northwind-params" if i % 3 == 0 else None,
            )
            count += 1
        put_parameter(
            account_id,
            region,
            "/northwind/payments/partner-token",
            modified=now - timedelta(days=200),
            tags={"owner": "payments-team@example.com"},
            tier="Advanced",
            policies=[
                {
                    "Type": "Expiration",
                    "Version": "1.0",
                    "Attributes": {"Timestamp": (now + timedelta(days=25)).strftime("%Y-%m-%dT%H:%M:%S.000Z")},
                }
            ],
        )
        put_parameter(
            account_id,
            region,
            "/northwind/data/warehouse-password",
            modified=now - timedelta(days=40),
            tier="Advanced",
            policies=[{"Type": "NoChangeNotification", "Version": "1.0", "Attributes": {"After": "60", "Unit": "Days"}}],
        )
        put_parameter(account_id, region, "/northwind/legacy/smtp_password", secure=False, modified=now - timedelta(days=600))
        for plain in ("/northwind/web/feature-flags", "/northwind/web/colour-scheme"):
            put_parameter(account_id, region, plain, secure=False, modified=now - timedelta(days=10))
        out.parameters[region] = count + 3
    return out
