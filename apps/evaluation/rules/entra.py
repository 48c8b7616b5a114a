"""Rules about Entra ID application and service principal credentials (client secrets and
certificate credentials read from Microsoft Graph): bounded lifetimes, expired ones removed,
an owner for every application holding credentials, one live client secret at a time, and
short-lived credentials for applications another tenant owns."""

from __future__ import annotations

from datetime import datetime

from apps.evaluation.rules._shared import ENTRA_CERTIFICATE, ENTRA_CLIENT_SECRET, credential_label, day, in_future, iso
from apps.evaluation.rules.base import (
    CredentialFacts,
    IdentityFacts,
    Rule,
    RuleContext,
    Verdict,
    days_between,
    failed,
    not_assessed,
    passed,
)

ENTRA_KINDS = frozenset({ENTRA_CLIENT_SECRET, ENTRA_CERTIFICATE})
SCOPE = "entra_id"


def _unreadable(c: CredentialFacts, field: str) -> bool:
    """The connector could not read this Graph field (startDateTime, endDateTime...)."""
    malformed = c.attributes.get("malformed_fields")
    return field in malformed if malformed else False


def _date_missing(c: CredentialFacts, field: str, label: str) -> Verdict:
    if _unreadable(c, field):
        return not_assessed(f"{label}: its {field} could not be read in the latest collection")
    return not_assessed(f"{label}: Graph returned no {field}")


def _object_label(i: IdentityFacts) -> str:
    object_type = (i.data.get("attributes") or {}).get("object_type") or "application"
    return f"{object_type} {i.name}"


class SecretLifetimeTooLong(Rule):
    id = "entra-secret-lifetime-too-long"
    credential_types = frozenset({ENTRA_CLIENT_SECRET})
    title = "Application client secrets are not issued for longer than the policy allows"
    severity = "medium"
    subject = "credential"
    requirements = ("9.2.4.09",)
    scope_kind = SCOPE
    explanation = (
        "Entra ID lets a client secret be created for up to two years, and a secret that lives long is a secret that "
        "leaks unnoticed. Every client secret of an application or service principal fails when its lifetime, from its "
        "start date to its end date, is more whole days than the policy's entra_secret_max_lifetime_days (180 by "
        "default). A start or end date that is missing or unreadable, or an end before the start, leaves it not assessed."
    )

    def applies(self, c: CredentialFacts) -> bool:
        return c.credential_type == ENTRA_CLIENT_SECRET

    def evaluate(self, c: CredentialFacts, ctx: RuleContext) -> Verdict:
        label, limit = credential_label(c), ctx.policy.entra_secret_max_lifetime_days
        start, end = c.not_before, c.expires_at
        if start is None:
            return _date_missing(c, "startDateTime", label)
        if end is None:
            return _date_missing(c, "endDateTime", label)
        if end < start:
            return not_assessed(f"{label}: end date {day(end)} is before its start date {day(start)}", start=iso(start), end=iso(end))
        lifetime = days_between(start, end)
        data = {"lifetime_days": lifetime, "limit_days": limit, "start": iso(start), "end": iso(end)}
        reason = f"{label} is valid for {lifetime} days, from {day(start)} to {day(end)}, limit {limit} days"
        return failed(reason, **data) if lifetime > limit else passed(reason, **data)


class ExpiredStillPresent(Rule):
    id = "entra-credential-expired-present"
    credential_types = ENTRA_KINDS
    title = "Expired application credentials are removed"
    severity = "low"
    subject = "credential"
    requirements = ("9.2.4.11",)
    scope_kind = SCOPE
    explanation = (
        "An expired client secret or certificate no longer signs anyone in, but leaving it on the application hides "
        "which credential is really in use and tempts someone to extend it. A credential of an application or service "
        "principal whose end date has passed fails while it is still listed. A missing or unreadable end date leaves it "
        "not assessed."
    )

    def applies(self, c: CredentialFacts) -> bool:
        return c.credential_type in ENTRA_KINDS

    def evaluate(self, c: CredentialFacts, ctx: RuleContext) -> Verdict:
        label, end = credential_label(c), c.expires_at
        if end is None:
            return _date_missing(c, "endDateTime", label)
        if end <= ctx.now:
            ago = days_between(end, ctx.now)
            return failed(f"{label} expired {day(end)}, {ago} days ago, and is still on it", end=iso(end), days_since_expiry=ago)
        return passed(f"{label} has not expired (ends {day(end)})", end=iso(end))


class AppWithoutOwner(Rule):
    id = "entra-app-no-owner"
    title = "Every application holding credentials has an owner"
    severity = "medium"
    subject = "identity"
    requirements = ("9.2.4.13",)
    scope_kind = SCOPE
    explanation = (
        "An application's owners are the people who answer for its credentials, and keytrail's access reviews send "
        "its credentials to them. An application or service principal that holds at least one client secret or "
        "certificate fails when Entra ID lists no owner for it. When the owners could not be read, it is not assessed."
    )

    def applies(self, i: IdentityFacts) -> bool:
        return any(c.credential_type in ENTRA_KINDS for c in i.credentials)

    def evaluate(self, i: IdentityFacts, ctx: RuleContext) -> Verdict:
        attributes = i.data.get("attributes") or {}
        count, owners = attributes.get("owner_count"), attributes.get("owners") or []
        label = _object_label(i)
        held = sum(1 for c in i.credentials if c.credential_type in ENTRA_KINDS)
        if not isinstance(count, int):
            return not_assessed(f"{label}: its owners could not be read in the latest collection", credentials=held)
        if count == 0:
            return failed(f"{label} holds {held} credential(s) and has no owner", owner_count=0, credentials=held)
        named = ", ".join(str(o)[:120] for o in owners[:3]) + (f" and {count - 3} more" if count > 3 else "")
        return passed(
            f"{label} has {count} owner(s): {named}", owner_count=count, credentials=held, owners=[str(o)[:200] for o in owners[:20]]
        )


def _active(c: CredentialFacts, now: datetime) -> bool | None:
    """True when ``now`` lies between the credential's start and end; None when a date is unknown."""
    if c.not_before is None or c.expires_at is None:
        return None
    return c.not_before <= now < c.expires_at


class MultipleActiveSecrets(Rule):
    id = "entra-app-multiple-secrets"
    title = "No application keeps more than one active client secret"
    severity = "medium"
    subject = "identity"
    requirements = ("9.2.4.08",)
    scope_kind = SCOPE
    explanation = (
        "A second client secret lets an application's secret be replaced without downtime; once its consumers use the "
        "new one the old one should be removed. An application or service principal fails when more than one of its "
        "client secrets is active (started and not yet ended). A deliberate overlap belongs in the exception register. "
        "When a secret's dates are unknown and it could make a second active one, it is not assessed."
    )

    def applies(self, i: IdentityFacts) -> bool:
        return any(c.credential_type == ENTRA_CLIENT_SECRET for c in i.credentials)

    def evaluate(self, i: IdentityFacts, ctx: RuleContext) -> Verdict:
        secrets = [c for c in i.credentials if c.credential_type == ENTRA_CLIENT_SECRET]
        states = [_active(c, ctx.now) for c in secrets]
        active = [c for c, state in zip(secrets, states, strict=True) if state is True]
        unknown = sum(1 for state in states if state is None)
        label = _object_label(i)
        data = {"client_secrets": len(secrets), "active_secrets": len(active), "unknown_dates": unknown}
        if len(active) >= 2:
            listed = ", ".join(f"'{c.name[:80]}' (ends {day(c.expires_at)})" for c in active[:5] if c.expires_at)
            return failed(f"{label} has {len(active)} active client secrets: {listed}", **data)
        if len(active) + unknown >= 2:
            return not_assessed(f"{label} has {len(active)} active client secret(s) and {unknown} with unknown dates", **data)
        return passed(f"{label} has {len(active)} active client secret(s) of {len(secrets)}", **data)


class ForeignAppCredentialAge(Rule):
    id = "entra-foreign-app-credential-age"
    credential_types = ENTRA_KINDS
    title = "Credentials of applications another tenant owns are replaced within the third-party limit"
    severity = "high"
    subject = "credential"
    requirements = ("9.2.4.14",)
    scope_kind = SCOPE
    explanation = (
        "A service principal whose application is registered in another tenant (appOwnerOrganizationId differs from "
        "ours) belongs to a third party; credentials added to it in our tenant must be time-bound. Each such client "
        "secret or certificate fails when it started more whole days ago than the policy's rotation limit for class "
        "third-party (90 by default). A service principal whose owning tenant Graph did not return, or a credential "
        "without a readable start date, is not assessed."
    )

    def applies(self, c: CredentialFacts) -> bool:
        if c.credential_type not in ENTRA_KINDS:
            return False
        foreign = c.attributes.get("foreign_tenant")
        return foreign is True or (foreign is None and c.attributes.get("object_type") == "service principal")

    def evaluate(self, c: CredentialFacts, ctx: RuleContext) -> Verdict:
        label, limit = credential_label(c), ctx.policy.rotation_limit("third-party")
        owner_org = c.attributes.get("app_owner_organization_id")
        if c.attributes.get("foreign_tenant") is None:
            return not_assessed(f"{label}: the tenant owning its application is unknown", limit_days=limit)
        start = c.not_before
        if start is None:
            verdict = _date_missing(c, "startDateTime", label)
            return not_assessed(verdict.reason, limit_days=limit, owner_tenant=owner_org)
        if start > ctx.now:
            return in_future(label, "start", start, limit_days=limit, owner_tenant=owner_org)
        age = days_between(start, ctx.now)
        data = {"age_days": age, "limit_days": limit, "start": iso(start), "owner_tenant": owner_org}
        reason = f"{label} (application owned by tenant {str(owner_org)[:40]}) started {day(start)}, {age} days ago, third-party limit {limit} days"
        return failed(reason, **data) if age > limit else passed(reason, **data)
