"""AWS identity controls proven from IAM metadata: break-glass users (9.2.4.16), single
sign-on and local console users (9.3.1.07), third-party users and roles (9.2.4.14).

Which users are break-glass or third-party is the policy's to say (a tag key and the flag
values), so these rules decide their population with :meth:`Rule.applies_in`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from apps.evaluation.rules._shared import (
    ACCESS_KEY,
    CONSOLE_PASSWORD,
    ROOT,
    day,
    identity_name,
    in_future,
    iso,
    key_label,
    never_used,
    unless_state_unknown,
)
from apps.evaluation.rules.base import (
    CredentialFacts,
    IdentityFacts,
    Rule,
    RuleContext,
    SourceFacts,
    Verdict,
    days_between,
    failed,
    not_assessed,
    passed,
)

SHOWN = 10  # names listed in a source verdict's reason (the data keeps up to 50)


def _iam_user(i: IdentityFacts) -> bool:
    return i.kind != ROOT and ":user/" in i.external_id and i.external_id.startswith("arn:")


def _attributes(i: IdentityFacts) -> dict[str, Any]:
    attributes = i.data.get("attributes") if isinstance(i.data, dict) else None
    return attributes if isinstance(attributes, dict) else {}


def _break_glass(i: IdentityFacts | None, ctx: RuleContext) -> bool:
    return i is not None and ctx.policy.tag_flag(i.tags, ctx.policy.break_glass_tag_key)


def _third_party(i: IdentityFacts | None, ctx: RuleContext) -> bool:
    return i is not None and ctx.policy.tag_flag(i.tags, ctx.policy.third_party_tag_key)


def _text(value: Any, limit: int = 80) -> str:
    """A value from the cloud as a reason shows it: cut, so a huge tag cannot flood a report."""
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _account_label(s: SourceFacts) -> str:
    account = str((s.iam_facts or {}).get("account_id") or "")
    return f"AWS account {s.name} ({account})" if account and account != s.name else f"AWS account {s.name}"


# ------------------------------------------------------------------ break-glass (9.2.4.16)


class _BreakGlassRule(Rule):
    subject = "identity"
    requirements = ("9.2.4.16",)
    scope_kind = "aws_iam"

    def applies(self, i: IdentityFacts) -> bool:
        return _iam_user(i)

    def applies_in(self, i: IdentityFacts, ctx: RuleContext) -> bool:
        return _iam_user(i) and _break_glass(i, ctx)

    def label(self, i: IdentityFacts) -> str:
        return f"break-glass user {i.name}"


class BreakGlassMfa(_BreakGlassRule):
    id = "break-glass-mfa"
    title = "Break-glass users have MFA (hardware where the policy says so)"
    severity = "high"
    explanation = (
        "An emergency account is powerful and rarely watched, so its sign-in must be protected by MFA; when the policy "
        "asks for it (break_glass_require_hardware_mfa, on by default) by a hardware device rather than a phone app. "
        "Break-glass users are IAM users whose break_glass_tag_key tag holds one of the policy's flag values. A device "
        "listed by ListVirtualMFADevices is virtual; an active MFA not listed there is a hardware token or security key. "
        "An unknown MFA state is not assessed."
    )

    def evaluate(self, i: IdentityFacts, ctx: RuleContext) -> Verdict:
        label = self.label(i)
        devices = i.data.get("mfa_devices") if isinstance(i.data, dict) else None
        types = sorted({str(d.get("type")) for d in devices or [] if isinstance(d, dict) and d.get("type")})
        hardware_required = ctx.policy.break_glass_require_hardware_mfa
        data = {"mfa_active": i.mfa_active, "mfa_device_types": types, "hardware_required": hardware_required}
        if i.mfa_active is None:
            return not_assessed(f"{label}: MFA state unknown", **data)
        if i.mfa_active is False:
            return failed(f"{label}: no MFA device active", **data)
        if not hardware_required:
            return passed(f"{label}: MFA active", **data)
        if "hardware" in types:
            return passed(f"{label}: hardware MFA active", **data)
        if types:
            return failed(f"{label}: only a virtual MFA device; the policy requires a hardware one", **data)
        return not_assessed(f"{label}: MFA active but the device type is unknown", **data)


class BreakGlassNoAccessKeys(_BreakGlassRule):
    id = "break-glass-no-access-keys"
    title = "Break-glass users have no access keys"
    severity = "high"
    explanation = (
        "A break-glass user is for signing in to the console in an emergency; an access key would let it be used "
        "quietly from anywhere. Any access key of the user, active or inactive, fails. When the user's keys could not "
        "be listed the user is not assessed."
    )

    def evaluate(self, i: IdentityFacts, ctx: RuleContext) -> Verdict:
        label = self.label(i)
        keys = [c for c in i.credentials if c.credential_type == ACCESS_KEY and c.deleted_at is None]
        data = {"access_keys": [c.external_id for c in keys][:10], "access_key_count": len(keys)}
        if keys:
            return failed(f"{label} has {len(keys)} access key(s): {', '.join(key_label(c) for c in keys[:4])}", **data)
        if _attributes(i).get("access_keys_listed") is False:
            return not_assessed(f"{label}: its access keys could not be listed", **data)
        return passed(f"{label} has no access key", **data)


class BreakGlassUnused(_BreakGlassRule):
    id = "break-glass-unused"
    title = "Break-glass users are not used (each use is explained)"
    severity = "high"
    explanation = (
        "Break-glass credentials exist for emergencies only, so any sign-in or key use within the policy's window "
        "(break_glass_use_window_days, 90 by default) is a finding: each use is to be explained, with its review and "
        "the rotation that followed, through an exception on this rule. Uses older than the window pass. A credential "
        "whose last use is unknown leaves the user not assessed."
    )

    def evaluate(self, i: IdentityFacts, ctx: RuleContext) -> Verdict:
        label = self.label(i)
        window = ctx.policy.break_glass_use_window_days
        uses: list[tuple[datetime, str]] = []
        unknown: list[str] = []
        for c in i.credentials:
            if c.credential_type not in (CONSOLE_PASSWORD, ACCESS_KEY) or c.deleted_at is not None:
                continue
            what = "console password" if c.credential_type == CONSOLE_PASSWORD else key_label(c)
            if c.last_used_at is not None and c.last_used_at > ctx.now:
                unknown.append(f"{what} (last use {day(c.last_used_at)} is in the future)")
            elif c.last_used_at is not None:
                uses.append((c.last_used_at, what))
            elif never_used(c) is None:
                unknown.append(what)
        data: dict[str, Any] = {"window_days": window}
        recent = [(when, what) for when, what in uses if days_between(when, ctx.now) <= window]
        if recent:
            when, what = max(recent)
            data.update(last_used_at=iso(when), used_with=what)
            return failed(f"{label}: {what} used on {day(when)}, within the last {window} days; explain the use", **data)
        if unknown:
            return not_assessed(f"{label}: last use of {', '.join(unknown[:3])} unknown", **data)
        if uses:
            when, what = max(uses)
            data.update(last_used_at=iso(when), used_with=what)
            return passed(f"{label}: last used on {day(when)} ({what}), more than {window} days ago", **data)
        return passed(f"{label}: no use recorded", **data)


class BreakGlassOwner(_BreakGlassRule):
    id = "break-glass-owner"
    title = "Break-glass users have an owner"
    severity = "medium"
    explanation = (
        "Someone must answer for each emergency account: who holds the sealed secret, who reviews its use. A break-glass "
        "user fails without an owner (one of the policy's owner tag keys)."
    )

    def evaluate(self, i: IdentityFacts, ctx: RuleContext) -> Verdict:
        label = self.label(i)
        owner = i.owner or ctx.policy.tag_value(i.tags, ctx.policy.owner_tag_keys)
        if owner:
            return passed(f"{label} is owned by {_text(owner)}", owner=_text(owner, 200))
        return failed(f"{label} has no owner tag ({', '.join(ctx.policy.owner_tag_keys)})", owner=None)


# ------------------------------------------------------------------ single sign-on (9.3.1.07)


def _identity_center(s: SourceFacts) -> dict[str, Any] | None:
    value = (s.iam_facts or {}).get("identity_center")
    return value if isinstance(value, dict) else None


class IdentityCenterNotUsed(Rule):
    id = "sso-identity-center-not-used"
    title = "AWS accounts are reached through IAM Identity Center"
    severity = "medium"
    subject = "source"
    requirements = ("9.3.1.07",)
    scope_kind = "aws_iam"
    explanation = (
        "People should reach AWS through single sign-on (IAM Identity Center) rather than local IAM users. An account "
        "fails when sso-admin ListInstances lists no instance in the regions asked (setting AWS_IDENTITY_CENTER_REGIONS). "
        "When the call was refused or failed, or the latest IAM collection predates this check, the account is not "
        "assessed, with the error."
    )

    def applies(self, s: SourceFacts) -> bool:
        return s.kind == "aws_account" and s.iam_facts is not None

    def evaluate(self, s: SourceFacts, ctx: RuleContext) -> Verdict:
        label = _account_label(s)
        facts = _identity_center(s)
        if facts is None:
            return not_assessed(f"{label}: the latest IAM collection did not look for IAM Identity Center", identity_center="not_collected")
        status = str(facts.get("status") or "unknown")[:20]
        regions = [str(r)[:40] for r in facts.get("regions") or []][:10]
        data = {"identity_center": status, "regions": regions}
        if status == "in_use":
            instances = facts.get("instances") or []
            arn = str((instances[0] or {}).get("arn") or "")[:200] if instances and isinstance(instances[0], dict) else ""
            return passed(f"{label}: IAM Identity Center is in use ({arn or 'instance listed'})", instance_arn=arn, **data)
        if status == "not_in_use":
            return failed(f"{label}: no IAM Identity Center instance in {', '.join(regions) or 'the regions asked'}", **data)
        error = str(facts.get("error") or "")[:300]
        return not_assessed(f"{label}: whether IAM Identity Center is in use is unknown: {error or 'no answer'}", error=error, **data)


class ConsolePasswordUserShare(Rule):
    id = "console-password-user-share"
    title = "Few human IAM users have a console password"
    severity = "medium"
    subject = "source"
    requirements = ("9.3.1.07",)
    scope_kind = "aws_iam"
    explanation = (
        "Local console passwords should be the exception (break-glass, services that cannot federate). An account fails "
        "when the share of its human IAM users with a console password is above max_console_password_user_percent (10 by "
        "default). Users whose password state is unknown could tip it either way: when counting them would cross the "
        "limit and not counting them would not, the account is not assessed."
    )

    def applies(self, s: SourceFacts) -> bool:
        return s.kind == "aws_account" and s.iam_facts is not None

    def evaluate(self, s: SourceFacts, ctx: RuleContext) -> Verdict:
        label = _account_label(s)
        facts = (s.iam_facts or {}).get("console_access")
        limit = ctx.policy.max_console_password_user_percent
        if not isinstance(facts, dict):
            return not_assessed(f"{label}: the latest IAM collection has no console access counts", limit_percent=limit)
        humans, with_password, unknown = (facts.get(k) for k in ("human_users", "with_console_password", "password_state_unknown"))
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (humans, with_password, unknown)):
            return not_assessed(f"{label}: the console access counts are unreadable", limit_percent=limit)
        assert isinstance(humans, int) and isinstance(with_password, int) and isinstance(unknown, int)  # for mypy
        data: dict[str, Any] = {
            "human_users": humans,
            "with_console_password": with_password,
            "password_state_unknown": unknown,
            "limit_percent": limit,
        }
        if humans == 0:
            return passed(f"{label}: no human IAM users", share_percent=0.0, **data)
        share = round(100.0 * with_password / humans, 1)
        worst = round(100.0 * (with_password + unknown) / humans, 1)
        data["share_percent"] = share
        reason = f"{label}: {with_password} of {humans} human IAM users ({share}%) have a console password, limit {limit}%"
        if share > limit:
            return failed(reason, **data)
        if worst > limit:
            return not_assessed(f"{reason}; {unknown} more with an unknown password state could exceed it", **data)
        return passed(reason, **data)


class ConsolePasswordOutsideSso(Rule):
    id = "console-password-outside-sso"
    credential_types = frozenset({CONSOLE_PASSWORD})
    title = "Where Identity Center is in use, only break-glass users keep a console password"
    severity = "medium"
    subject = "credential"
    requirements = ("9.3.1.07",)
    scope_kind = "aws_iam"
    explanation = (
        "Once an account is reached through IAM Identity Center, a local console password is a second way in that "
        "bypasses the identity provider. In an account where Identity Center is in use, a console password of a user "
        "not tagged break-glass fails. Where it is not in use the password passes here (the account is judged by "
        "sso-identity-center-not-used); where that is unknown the password is not assessed."
    )

    def applies(self, c: CredentialFacts) -> bool:
        return c.credential_type == CONSOLE_PASSWORD and c.enabled is not False

    def evaluate(self, c: CredentialFacts, ctx: RuleContext) -> Verdict:
        label = f"console password of {identity_name(c)}"
        state = c.attributes.get("identity_center")
        data = {"identity_center": str(state)[:20] if state is not None else None, "break_glass": _break_glass(c.identity, ctx)}
        if state == "not_in_use":
            return passed(f"{label}: IAM Identity Center is not in use in this account", **data)
        if state != "in_use":
            return not_assessed(f"{label}: whether IAM Identity Center is in use is unknown", **data)
        if data["break_glass"]:
            return passed(f"{label}: a break-glass user, allowed a local password beside Identity Center", **data)
        return unless_state_unknown(
            failed(f"{label}: IAM Identity Center is in use, and this user is not tagged break-glass", **data), c.enabled
        )


# ------------------------------------------------------------------ third parties (9.2.4.14)


def parse_expiry(value: str) -> datetime | None:
    """An expiry tag's date (``2027-03-31`` or an ISO date-time) as UTC; ``None`` if it is not one."""
    text = value.strip()
    if not text or len(text) > 40:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


class ThirdPartyUserNoExpiry(Rule):
    id = "third-party-user-no-expiry"
    title = "Third-party IAM users carry an end date that has not passed"
    severity = "medium"
    subject = "identity"
    requirements = ("9.2.4.14",)
    scope_kind = "aws_iam"
    explanation = (
        "A third party's access must end with the engagement. IAM users whose third_party_tag_key tag holds a flag value "
        "must carry an expiry tag (one of expiry_tag_keys) with an ISO date: a missing tag, a value that is not a date, "
        "or a date already passed while the user still exists fails."
    )

    def applies(self, i: IdentityFacts) -> bool:
        return _iam_user(i)

    def applies_in(self, i: IdentityFacts, ctx: RuleContext) -> bool:
        return _iam_user(i) and _third_party(i, ctx)

    def evaluate(self, i: IdentityFacts, ctx: RuleContext) -> Verdict:
        label = f"third-party user {i.name}"
        keys = ctx.policy.expiry_tag_keys
        raw = ctx.policy.tag_value(i.tags, keys)
        if not raw:
            return failed(f"{label} has no expiry tag ({', '.join(keys)})", expiry=None)
        expiry = parse_expiry(raw)
        if expiry is None:
            return failed(f"{label}: expiry tag '{_text(raw, 40)}' is not a date", expiry=None, expiry_tag=_text(raw, 200))
        if expiry < ctx.now:
            return failed(f"{label}: expired on {day(expiry)} and still present", expiry=iso(expiry))
        return passed(f"{label}: access ends on {day(expiry)}", expiry=iso(expiry))


class ThirdPartyKeyAge(Rule):
    id = "third-party-key-age"
    credential_types = frozenset({ACCESS_KEY})
    title = "Third-party users' access keys are replaced within the third-party limit"
    severity = "medium"
    subject = "credential"
    requirements = ("9.2.4.14",)
    scope_kind = "aws_iam"
    explanation = (
        "Keys held outside the organisation are the hardest to control, so a third-party user's access key must be "
        "replaced within the rotation limit of the 'third-party' class (90 days by default). Active and inactive keys "
        "of users tagged third-party are judged on their creation; an unknown creation date is not assessed."
    )

    def applies(self, c: CredentialFacts) -> bool:
        return c.credential_type == ACCESS_KEY and c.enabled is not False and c.identity is not None

    def applies_in(self, c: CredentialFacts, ctx: RuleContext) -> bool:
        return self.applies(c) and _third_party(c.identity, ctx)

    def evaluate(self, c: CredentialFacts, ctx: RuleContext) -> Verdict:
        limit = ctx.policy.rotation_limit("third-party")
        label = f"{key_label(c)} of third-party user {identity_name(c)}"
        base = c.created_at or c.last_rotated_at
        if base is None:
            return not_assessed(f"{label}: creation date unknown", limit_days=limit)
        if base > ctx.now:
            return in_future(label, "creation", base, created_at=iso(base))
        age = days_between(base, ctx.now)
        data = {"age_days": age, "limit_days": limit, "created_at": iso(base), "credential_class": "third-party"}
        reason = f"{label}, created {day(base)}, {age} days ago, limit {limit} days for third-party users"
        return failed(reason, **data) if age > limit else passed(reason, **data)


class RoleExternalTrustNoExternalId(Rule):
    id = "role-external-trust-no-external-id"
    title = "Roles other accounts may assume require an external id"
    severity = "high"
    subject = "source"
    requirements = ("9.2.4.14",)
    scope_kind = "aws_iam"
    explanation = (
        "A role that a third party's AWS account may assume should require an sts:ExternalId condition, so a vendor "
        "serving many customers cannot be tricked into using it for someone else (the confused deputy). From the roles "
        "in GetAccountAuthorizationDetails, an account fails when a role's trust policy admits another account's "
        "principal (or *) in a statement without an sts:ExternalId condition; the reason names the roles. A trust "
        "policy that could not be read leaves the account not assessed unless another role already fails."
    )

    def applies(self, s: SourceFacts) -> bool:
        return s.kind == "aws_account" and s.iam_facts is not None

    def evaluate(self, s: SourceFacts, ctx: RuleContext) -> Verdict:
        label = _account_label(s)
        facts = (s.iam_facts or {}).get("external_trust")
        if not isinstance(facts, dict) or not isinstance(facts.get("roles"), list):
            return not_assessed(f"{label}: the latest IAM collection did not read the roles' trust policies")
        roles = [r for r in facts["roles"] if isinstance(r, dict)]
        open_roles = [r for r in roles if r.get("external_id_required") is not True]
        unreadable = facts.get("unreadable_count") or 0
        data = {
            "roles_checked": facts.get("roles_checked"),
            "externally_trusted": len(roles),
            "without_external_id": [str(r.get("name"))[:128] for r in open_roles][:50],
            "unreadable_trust_policies": unreadable,
        }
        if open_roles:
            names = ", ".join(_text(r.get("name"), 64) for r in open_roles[:SHOWN])
            more = f" and {len(open_roles) - SHOWN} more" if len(open_roles) > SHOWN else ""
            return failed(f"{label}: {len(open_roles)} role(s) trusted by other accounts without an external id: {names}{more}", **data)
        if unreadable:
            return not_assessed(f"{label}: {unreadable} role trust policies could not be read", **data)
        return passed(f"{label}: {len(roles)} role(s) trusted by other accounts, each requiring an external id", **data)
