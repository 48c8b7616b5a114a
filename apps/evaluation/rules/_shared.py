"""Building blocks the rule modules share: labels, date wording, last-use state.

Everything here is cheap on purpose (no regex, no copies): the engine runs every rule over
every credential, so these helpers are called millions of times per evaluation.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache

from apps.connectors.kinds import CredentialKind, IdentityKind
from apps.evaluation.rules.base import (
    FAIL,
    PASS,
    CredentialFacts,
    Verdict,
    days_between,
    holding_until,
    not_assessed,
)

# Plain ``str`` values (not the enum members): rules compare them millions of times.
ACCESS_KEY = CredentialKind.ACCESS_KEY.value
CONSOLE_PASSWORD = CredentialKind.CONSOLE_PASSWORD.value
ROOT_ACCESS_KEY = CredentialKind.ROOT_ACCESS_KEY.value
SM_SECRET = CredentialKind.SM_SECRET.value
KV_SECRET = CredentialKind.KV_SECRET.value
SSH_PUBLIC_KEY = CredentialKind.SSH_PUBLIC_KEY.value
SERVICE_CREDENTIAL = CredentialKind.SERVICE_CREDENTIAL.value
SIGNING_CERTIFICATE = CredentialKind.SIGNING_CERTIFICATE.value
SERVER_CERTIFICATE = CredentialKind.SERVER_CERTIFICATE.value
SSM_SECURE_STRING = CredentialKind.SSM_SECURE_STRING.value
SSM_PLAINTEXT_PARAMETER = CredentialKind.SSM_PLAINTEXT_PARAMETER.value
KV_KEY = CredentialKind.KV_KEY.value
KV_CERTIFICATE = CredentialKind.KV_CERTIFICATE.value
ENTRA_CLIENT_SECRET = CredentialKind.ENTRA_CLIENT_SECRET.value
ENTRA_CERTIFICATE = CredentialKind.ENTRA_CERTIFICATE.value

HUMAN, SERVICE, ROOT = IdentityKind.HUMAN.value, IdentityKind.SERVICE.value, IdentityKind.ROOT.value

# ``attributes["last_used_status"]`` values that mean "no use was ever recorded". The IAM
# connector writes "none_recorded" (the credential report's N/A), synthetic inventories
# "never_used"; an absent status with no last-use date means the same.
NEVER_USED_STATUSES = frozenset({None, "never_used", "none_recorded"})


# An aware datetime's isoformat() costs microseconds, and rules format the same few dates of each
# credential again and again (its creation, last use, last rotation: one rule after another). Cached
# for UTC datetimes only (as the inventory reads them): equal UTC datetimes format alike, where equal
# datetimes in different zones do not. Bounded: a chunk's dates, not the inventory's.
@lru_cache(maxsize=1 << 15)
def _utc_iso(value: datetime) -> str:
    return value.isoformat()


@lru_cache(maxsize=1 << 15)
def _utc_day(value: datetime) -> str:
    return value.date().isoformat()


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return _utc_iso(value) if value.tzinfo is UTC else value.isoformat()


def day(value: datetime) -> str:
    """A date for a reason: ``2026-03-04``."""
    return _utc_day(value) if value.tzinfo is UTC else value.date().isoformat()


def short_id(value: str) -> str:
    """An access key id as people read it in a report: first 4 + … + last 4 characters."""
    return value if len(value) <= 10 else f"{value[:4]}…{value[-4:]}"


def key_label(c: CredentialFacts) -> str:
    if c.enabled is True:
        return f"active access key {short_id(c.external_id)}"
    if c.enabled is False:
        return f"inactive access key {short_id(c.external_id)}"
    return f"access key {short_id(c.external_id)} (status unknown)"


def identity_name(c: CredentialFacts) -> str:
    identity = c.identity
    if identity is not None:
        return identity.name
    return str(c.attributes.get("user_name") or "an unknown user")


def credential_label(c: CredentialFacts) -> str:
    """How a reason names a credential of any type."""
    kind = c.credential_type
    if kind == ACCESS_KEY:
        return f"{key_label(c)} of {identity_name(c)}"
    if kind == CONSOLE_PASSWORD:
        return f"console password of {identity_name(c)}"
    if kind == ROOT_ACCESS_KEY:
        return f"root access key {c.external_id}"
    if kind == SM_SECRET:
        return f"Secrets Manager secret {c.name}"
    if kind == KV_SECRET:
        return f"Key Vault secret {c.name}"
    if kind in _OF_USER:
        return f"{_OF_USER[kind]} {short_id(c.external_id)} of {identity_name(c)}"
    if kind == SERVER_CERTIFICATE:
        return f"server certificate {c.name}"
    if kind == SSM_SECURE_STRING:
        return f"SecureString parameter {c.name}"
    if kind == SSM_PLAINTEXT_PARAMETER:
        return f"plaintext parameter {c.name}"
    if kind == KV_KEY:
        return f"Key Vault key {c.name}"
    if kind == KV_CERTIFICATE:
        return f"Key Vault certificate {c.name}"
    if kind in _ENTRA:
        return f"{_ENTRA[kind]} '{c.name}' of {c.attributes.get('object_type') or 'application'} {identity_name(c)}"
    return f"{kind} {c.name}"


_ENTRA = {ENTRA_CLIENT_SECRET: "client secret", ENTRA_CERTIFICATE: "certificate credential"}
_OF_USER = {SSH_PUBLIC_KEY: "SSH public key", SERVICE_CREDENTIAL: "service-specific credential", SIGNING_CERTIFICATE: "signing certificate"}


def in_future(label: str, what: str, value: datetime, **data) -> Verdict:
    """``not_assessed`` for a date the rule depends on that lies after ``now`` (it holds until
    that date is reached)."""
    return holding_until(not_assessed(f"{label}: {what} date {day(value)} is in the future", **data), value)


def next_day_tick(base: datetime, days: int) -> datetime:
    """The instant ``days_between(base, now)`` turns from ``days`` to ``days + 1``: until then a
    verdict that counts whole days since ``base`` reads the same."""
    return base + timedelta(days=days + 1)


def unless_state_unknown(verdict: Verdict, enabled: bool | None) -> Verdict:
    """A failure that only counts for an enabled credential becomes not assessed when the
    credential's enabled state is unknown; passes stand (they hold either way)."""
    if enabled is None and verdict.status == FAIL:
        return holding_until(not_assessed(f"{verdict.reason}; whether it is enabled is unknown", **verdict.data), verdict.until)
    return verdict


def days_left_tick(expires: datetime, left: int) -> datetime:
    """The first instant at which ``days_between(now, expires)`` (``left`` now) reads less, or
    ``expires`` is reached, whichever comes first."""
    return min(expires, expires - timedelta(days=left) + timedelta(microseconds=1))


def judge_age(
    c: CredentialFacts, now: datetime, limit: int, label: str, *, rotated: str = "last rotation", created: str = "creation (never rotated)"
) -> Verdict:
    """Days since the last rotation (or creation) against ``limit``: fail when strictly more."""
    if c.last_rotated_at is not None:
        base, basis, since, what = c.last_rotated_at, "last_rotated_at", rotated, rotated
    elif c.created_at is not None:
        base, basis, since, what = c.created_at, "created_at", created, "creation"
    else:
        return not_assessed(f"{label}: creation and {rotated} dates unknown", credential_class=c.credential_class, limit_days=limit)
    if base > now:
        return in_future(label, what, base, basis=basis, basis_date=iso(base))
    age = days_between(base, now)
    data = {"age_days": age, "limit_days": limit, "credential_class": c.credential_class, "basis": basis, "basis_date": iso(base)}
    reason = f"{label}, {age} days since {since}, limit {limit} for class {c.credential_class}"
    return Verdict(FAIL if age > limit else PASS, reason, data, next_day_tick(base, age))  # one verdict, not two


def judge_last_use(c: CredentialFacts, now: datetime, limit: int, label: str, *, created: str = "created") -> Verdict:
    """Unused for more than ``limit`` days. A credential never used counts from its creation,
    so a new one is not flagged before it has had ``limit`` days to be used."""
    used = c.last_used_at
    if used is not None:
        if used > now:
            return in_future(label, "last use", used, last_used_at=iso(used))
        idle = days_between(used, now)
        data = {"never_used": False, "last_used_at": iso(used), "idle_days": idle, "limit_days": limit}
        reason = f"{label}, last used {day(used)}, {idle} days ago, limit {limit} days"
        return Verdict(FAIL if idle > limit else PASS, reason, data, next_day_tick(used, idle))
    status = c.attributes.get("last_used_status")
    if status not in NEVER_USED_STATUSES:
        shown = str(status)[:40]
        return not_assessed(f"{label}: last use unknown (reported as '{shown}' without a date)", last_used_status=shown)
    if c.created_at is None:
        return not_assessed(f"{label}: never used and its creation date is unknown", never_used=True, limit_days=limit)
    if c.created_at > now:
        return in_future(label, "creation", c.created_at, never_used=True, created_at=iso(c.created_at))
    age = days_between(c.created_at, now)
    data = {"never_used": True, "created_at": iso(c.created_at), "age_days": age, "limit_days": limit}
    reason = f"{label}, never used, {created} {day(c.created_at)}, {age} days ago, limit {limit} days"
    return Verdict(FAIL if age > limit else PASS, reason, data, next_day_tick(c.created_at, age))


def never_used(c: CredentialFacts) -> bool | None:
    """True: no use ever recorded; False: used; None: unknown."""
    if c.last_used_at is not None:
        return False
    return True if c.attributes.get("last_used_status") in NEVER_USED_STATUSES else None
