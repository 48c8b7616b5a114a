"""Keys and certificates for a simulated vault (the demo, tests): one of each case the Key Vault
key and certificate rules judge, then a few ordinary ones.

Kept apart from :func:`apps.devtools.simulators.organisation.seed_vault` (secrets) so it can
be called for any simulated vault, including those a subscription's discovery finds::

    seed_vault_items(vault, seed=7, now=now)
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from apps.devtools.simulators.key_vault import certificate_policy, rotation_policy
from apps.devtools.simulators.organisation import HOSTILE_TAG_VALUES

_TEAMS = ("payments", "platform", "identity", "data")


def seed_vault_items(simulator: Any, *, seed: int, now: datetime | None = None, extra: int = 4, hostile: bool = True) -> tuple[int, int]:
    """Add keys and certificates to ``simulator`` (a started KeyVaultSimulator); returns
    ``(keys, certificates)`` added. Deterministic for a given ``seed`` and ``now``."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    year = timedelta(days=365)

    def tags(i: int) -> dict[str, str]:
        team = _TEAMS[i % len(_TEAMS)]
        out = {"owner": f"{team}-team@example.com"} if i % 5 else {}
        if hostile and i == 3:
            out["note"] = rng.choice(HOSTILE_TAG_VALUES)
        return out

    keys = [
        # name, created days ago, expiry (days from now or None), enabled, policy
        ("orders-signing", 60, 305, True, rotation_policy(rotate_after_days=90, expiry_days=365)),
        ("backup-encryption", 200, 165, True, rotation_policy(rotate_after_days=730, expiry_days=1095)),  # interval too long
        ("legacy-wrap-key", 900, 400, True, None),  # no rotation policy (the service's default: Notify only)
        ("tokens-hmac", 30, None, True, rotation_policy(rotate_after_days=180)),  # no expiry
        ("retired-rsa", 1200, -30, False, None),  # disabled: out of every population
        ("ledger-cmk", 100, 265, True, rotation_policy(rotate_before_expiry_days=30, expiry_days=365)),
    ]
    for i, (name, age, expires_in, enabled, policy) in enumerate(keys):
        simulator.keys.add(
            name,
            created=now - timedelta(days=age),
            expires=None if expires_in is None else now + timedelta(days=expires_in),
            enabled=enabled,
            tags=tags(i),
            versions=1 + age // 365,
            policy=policy,
        )
    certificates = [
        # name, created days ago, expiry (days from now), enabled, policy
        ("www-example-com", 120, 245, True, certificate_policy(issuer="DigiCert", auto_renew=True, subject="CN=www.example.com")),
        (
            "api-partner-mtls",
            400,
            -12,
            True,
            certificate_policy(issuer="Self", auto_renew=False, subject="CN=api-partner"),
        ),  # expired, enabled
        ("sftp-host", 355, 10, True, certificate_policy(issuer="Self", auto_renew=False, days_before_expiry=30, subject="CN=sftp")),
        ("portal-example-com", 355, 10, True, certificate_policy(issuer="DigiCert", auto_renew=True, subject="CN=portal.example.com")),
        ("old-intranet", 800, -300, False, certificate_policy(issuer="Unknown", auto_renew=False, subject="CN=intranet")),
    ]
    for i, (name, age, expires_in, enabled, policy) in enumerate(certificates):
        simulator.certificates.add(
            name,
            created=now - timedelta(days=age),
            not_before=now - timedelta(days=age),
            expires=now + timedelta(days=expires_in),
            enabled=enabled,
            tags=tags(i + 1),
            versions=1 + age // 365,
            policy=policy,
        )
    for j in range(extra):
        created = now - timedelta(days=rng.randint(1, 300))
        simulator.keys.add(
            f"app-key-{j:02d}",
            created=created,
            expires=created + 2 * year,
            tags=tags(j + 10),
            policy=rotation_policy(rotate_after_days=rng.choice((90, 180, 365))),
        )
        simulator.certificates.add(
            f"svc-{j:02d}-example-com",
            created=created,
            not_before=created,
            expires=created + year,
            tags=tags(j + 11),
            policy=certificate_policy(issuer=rng.choice(("DigiCert", "GlobalSign", "Self")), auto_renew=rng.random() < 0.7),
        )
    return len(keys) + extra, len(certificates) + extra
