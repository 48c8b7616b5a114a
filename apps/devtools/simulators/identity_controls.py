"""The demo's identity controls (9.2.4.04, 9.2.4.14, 9.2.4.16, 9.3.1.07): a pass and a fail
for each rule, seeded into moto's backend.

:func:`seed_identity_controls` adds, to the account given as ``prod``: break-glass users (one
sound, one failing every break-glass rule), third-party users (one with an end date and a
fresh key, one with neither), roles trusted by another account (with and without an external
id), new starters' login profiles (one with "reset required" and unused, one without and
used), handed-over partner API keys (one replaced, one still on its first value and in use);
and marks most existing passwords as changed since they were set (as their users would
have). To ``sandbox``: no IAM Identity Center instance and only a guarded trusted role. To
``few_passwords``: every console password removed (people sign in through Identity Center).

moto never returns a secret's ``LastAccessedDate``: :func:`install` makes moto's server
answer the date set by :func:`set_secret_last_accessed` (on moto's secret object, so a reset
wipes it). Nothing here is imported by the product.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from typing import Any

from apps.devtools.simulators.aws import iam_backend, secretsmanager_backend
from apps.devtools.simulators.iam_extras import set_login_profile_created, set_password_last_changed

_LAST_ACCESSED = "keytrail_last_accessed"
_installed = False
PARTNER_ACCOUNT = "999988887777"


def install() -> None:
    """Let moto's ListSecrets/DescribeSecret answer a secret's last access (idempotent)."""
    global _installed
    if _installed:
        return
    from moto.secretsmanager.models import FakeSecret

    original = FakeSecret.to_dict

    def to_dict(self: Any) -> dict[str, Any]:
        answer = original(self)
        accessed = getattr(self, _LAST_ACCESSED, None)
        if accessed is not None:
            # AWS reports the day only (midnight UTC), as a Unix timestamp in JSON.
            answer["LastAccessedDate"] = accessed.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
        return answer

    FakeSecret.to_dict = to_dict  # type: ignore[method-assign]
    _installed = True


def set_secret_last_accessed(account_id: str, region: str, name: str, accessed: datetime) -> None:
    install()
    setattr(secretsmanager_backend(account_id, region).secrets[name], _LAST_ACCESSED, accessed)


def _trust(principal: str, external_id: str | None = None) -> str:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}
    if external_id:
        statement["Condition"] = {"StringEquals": {"sts:ExternalId": external_id}}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _user(backend: Any, name: str, created: datetime, tags: dict[str, str]) -> Any:
    user = backend.create_user("us-east-1", name, "/", [{"Key": k, "Value": v} for k, v in tags.items()])
    user.create_date = created
    return user


def _key(backend: Any, name: str, created: datetime, last_used: datetime | None = None) -> None:
    from moto.iam.models import AccessKeyLastUsed

    key = backend.create_access_key(name)
    key.create_date = created
    if last_used is not None:
        key.last_used = AccessKeyLastUsed(timestamp=last_used, service="iam", region="us-east-1")


def _hardware_mfa(backend: Any, name: str) -> None:
    # A serial that is no virtual device's: keytrail records it as hardware (not in ListVirtualMFADevices).
    backend.enable_mfa_device(name, f"GAHT{abs(hash(name)) % 10**8:08d}", "123456", "654321")


def _virtual_mfa(backend: Any, name: str) -> None:
    device = backend.create_virtual_mfa_device(f"{name}-phone", "/")
    backend.enable_mfa_device(name, device.serial_number, "123456", "654321")


def seed_identity_controls(prod: str, *, sandbox: str | None = None, few_passwords: str | None = None, region: str, now: datetime) -> None:
    install()
    backend = iam_backend(prod)
    owner = {"owner": "security-team@example.com"}

    # Existing people changed their starting password within a few days of getting it.
    rng = random.Random(22)
    for user in list(backend.users.values()):
        if user.password and rng.random() < 0.9:
            changed = user.create_date + timedelta(days=rng.randint(1, 5))
            if changed < now:
                set_password_last_changed(prod, user.name, changed)

    # 9.2.4.16 break-glass: one sound, one failing every rule.
    _user(backend, "breakglass-01", now - timedelta(days=700), {"break-glass": "true", "identity-type": "human", **owner})
    backend.create_login_profile("breakglass-01", "not-a-real-password-bg1")
    set_password_last_changed(prod, "breakglass-01", now - timedelta(days=200))
    _hardware_mfa(backend, "breakglass-01")
    _user(backend, "breakglass-02", now - timedelta(days=500), {"break-glass": "yes", "identity-type": "human"})
    backend.create_login_profile("breakglass-02", "not-a-real-password-bg2")
    set_password_last_changed(prod, "breakglass-02", now - timedelta(days=300))
    backend.get_user("breakglass-02").password_last_used = now - timedelta(days=9)
    _virtual_mfa(backend, "breakglass-02")
    _key(backend, "breakglass-02", now - timedelta(days=400), now - timedelta(days=40))

    # 9.2.4.14 third parties: users and roles.
    vendor_tags = {"third-party": "true", "identity-type": "service", **owner}
    _user(
        backend, "vendor-acme-support", now - timedelta(days=60), {**vendor_tags, "expires": (now + timedelta(days=120)).date().isoformat()}
    )
    _key(backend, "vendor-acme-support", now - timedelta(days=30), now - timedelta(days=1))
    _user(backend, "vendor-globex-sync", now - timedelta(days=400), vendor_tags)
    _key(backend, "vendor-globex-sync", now - timedelta(days=200), now - timedelta(days=2))
    backend.create_role(
        "vendor-audit-role", _trust(f"arn:aws:iam::{PARTNER_ACCOUNT}:root", "northwind-audit-7f3a"), "/", None, "", [], "3600"
    )
    backend.create_role("vendor-deploy-role", _trust(f"arn:aws:iam::{PARTNER_ACCOUNT}:role/deployer"), "/", None, "", [], "3600")

    # 9.2.4.04 new starters: one to be changed at first sign-in (unused), one not (and used).
    _user(backend, "starter-dana", now - timedelta(days=2), {"identity-type": "human", **owner})
    backend.create_login_profile("starter-dana", "not-a-real-password-sd")
    backend.get_user("starter-dana").password_reset_required = True
    _virtual_mfa(backend, "starter-dana")
    _user(backend, "starter-eli", now - timedelta(days=20), {"identity-type": "human", **owner})
    backend.create_login_profile("starter-eli", "not-a-real-password-se")
    set_login_profile_created(prod, "starter-eli", now - timedelta(days=20))
    backend.get_user("starter-eli").password_last_used = now - timedelta(days=3)
    _virtual_mfa(backend, "starter-eli")

    # 9.2.4.04 handed-over partner API keys (class external-api).
    secrets = secretsmanager_backend(prod, region)
    for name, versions in (("partner-acme-api-key", 2), ("partner-globex-api-key", 1)):
        secrets.create_secret(
            name=name,
            secret_string="demo-value-1",
            secret_binary=None,
            description="API key received from a partner",
            tags=[{"Key": "class", "Value": "external-api"}, {"Key": "owner", "Value": "integrations-team@example.com"}],
            kms_key_id=None,
            client_request_token=None,
            replica_regions=[],
            force_overwrite=False,
        )
        if versions == 2:
            secrets.put_secret_value(name, "demo-value-2", None, None, ["AWSCURRENT"])
        secret = secrets.secrets[name]
        secret.created_date = int((now - timedelta(days=150)).timestamp())
        set_secret_last_accessed(prod, region, name, now - timedelta(days=2))

    if sandbox is not None:
        from moto.ssoadmin.models import ssoadmin_backends

        for backend_region in ("us-east-1", region):
            ssoadmin_backends[sandbox][backend_region].instances.clear()
        iam_backend(sandbox).create_role(
            "vendor-audit-role", _trust(f"arn:aws:iam::{PARTNER_ACCOUNT}:root", "northwind-audit-sbx"), "/", None, "", [], "3600"
        )

    if few_passwords is not None:
        for user in iam_backend(few_passwords).users.values():
            user.password = None  # everyone signs in through Identity Center
