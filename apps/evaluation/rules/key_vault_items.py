"""Rules about Azure Key Vault keys and certificates: an expiry, a rotation policy within the
class limit, renewal before expiry, nothing expired left enabled."""

from __future__ import annotations

from apps.evaluation.rules._shared import KV_CERTIFICATE, KV_KEY, day, iso, unless_state_unknown
from apps.evaluation.rules.base import (
    CredentialFacts,
    Rule,
    RuleContext,
    Verdict,
    days_between,
    failed,
    not_assessed,
    passed,
)

KEYS_SCOPE = "azure_key_vault_keys"
CERTIFICATES_SCOPE = "azure_key_vault_certificates"


def _label(c: CredentialFacts) -> str:
    state = "enabled " if c.enabled is True else ("disabled " if c.enabled is False else "")
    what = "key" if c.credential_type == KV_KEY else "certificate"
    return f"{state}Key Vault {what} {c.name}"


def _unreadable(c: CredentialFacts, field: str) -> bool:
    malformed = c.attributes.get("malformed_fields")
    return field in malformed if malformed else False


def _no_expiry(c: CredentialFacts) -> Verdict:
    label = _label(c)
    if c.expires_at is not None:
        return passed(f"{label} expires {day(c.expires_at)}", has_expiry=True, expires_at=iso(c.expires_at))
    if _unreadable(c, "exp"):
        return not_assessed(f"{label}: its expiry date could not be read", has_expiry=None)
    return unless_state_unknown(failed(f"{label} has no expiry date", has_expiry=False), c.enabled)


class KeyNoExpiry(Rule):
    id = "kv-key-no-expiry"
    credential_types = frozenset({KV_KEY})
    title = "Enabled vault keys have an expiry date"
    severity = "medium"
    subject = "credential"
    requirements = ("9.2.4.09",)
    scope_kind = KEYS_SCOPE
    explanation = (
        "A key without an expiry date can be used for ever, so nothing forces it to be replaced. Every enabled Key "
        "Vault key fails when it has no expiry date. If the vault returned an expiry value that could not be read, "
        "the key is not assessed instead."
    )

    def applies(self, c: CredentialFacts) -> bool:
        return c.credential_type == KV_KEY and c.enabled is not False

    def evaluate(self, c: CredentialFacts, ctx: RuleContext) -> Verdict:
        return _no_expiry(c)


class CertificateNoExpiry(Rule):
    id = "kv-certificate-no-expiry"
    credential_types = frozenset({KV_CERTIFICATE})
    title = "Enabled vault certificates have an expiry date"
    severity = "medium"
    subject = "credential"
    requirements = ("9.2.4.09",)
    scope_kind = CERTIFICATES_SCOPE
    explanation = (
        "Every certificate carries an end of validity, so a vault certificate listed without one points to a "
        "certificate whose expiry nobody can plan for. An enabled Key Vault certificate fails when the vault reports "
        "no expiry date; one whose expiry could not be read is not assessed."
    )

    def applies(self, c: CredentialFacts) -> bool:
        return c.credential_type == KV_CERTIFICATE and c.enabled is not False

    def evaluate(self, c: CredentialFacts, ctx: RuleContext) -> Verdict:
        return _no_expiry(c)


class KeyRotationPolicy(Rule):
    id = "kv-key-rotation-policy"
    credential_types = frozenset({KV_KEY})
    title = "Enabled vault keys rotate automatically within the limit for their class"
    severity = "medium"
    subject = "credential"
    requirements = ("9.2.4.08",)
    scope_kind = KEYS_SCOPE
    explanation = (
        "A key rotation policy with a Rotate action makes Key Vault create a new key version on schedule, so rotation "
        "does not depend on someone remembering. An enabled key fails when its policy has no Rotate action, or when "
        "the interval between rotations is more whole days than the rotation limit for its class (365 for vault keys "
        "by default). A policy that could not be read, or whose interval cannot be worked out, leaves the key not "
        "assessed."
    )

    def applies(self, c: CredentialFacts) -> bool:
        return c.credential_type == KV_KEY and c.enabled is not False

    def evaluate(self, c: CredentialFacts, ctx: RuleContext) -> Verdict:
        label, limit = _label(c), ctx.policy.rotation_limit(c.credential_class)
        data = {"limit_days": limit, "credential_class": c.credential_class, "rotation_trigger": c.attributes.get("rotation_trigger")}
        if c.rotation_enabled is None:
            errors = c.attributes.get("policy_errors")
            why = (
                f"its rotation policy could not be read ({', '.join(map(str, errors))[:200]})"
                if errors
                else "its rotation policy could not be read"
            )
            return not_assessed(f"{label}: {why}", rotation_policy=None, **data)
        if c.rotation_enabled is False:
            verdict = failed(f"{label} has no rotation policy with a Rotate action", rotation_policy=False, **data)
            return unless_state_unknown(verdict, c.enabled)
        interval = c.rotation_interval_days
        if interval is None:
            return not_assessed(f"{label}: its rotation policy has no interval that can be worked out", rotation_policy=True, **data)
        data.update(rotation_policy=True, interval_days=interval)
        reason = f"{label} rotates every {interval} days ({data['rotation_trigger']}), limit {limit} for class {c.credential_class}"
        if interval > limit:
            return unless_state_unknown(failed(reason, **data), c.enabled)
        return passed(reason, **data)


class CertificateExpiredEnabled(Rule):
    id = "kv-certificate-expired-enabled"
    credential_types = frozenset({KV_CERTIFICATE})
    title = "Expired vault certificates are disabled"
    severity = "high"
    subject = "credential"
    requirements = ("9.2.4.09",)
    scope_kind = CERTIFICATES_SCOPE
    explanation = (
        "A certificate past its expiry is refused by anyone who checks it, and one left enabled in a vault may still "
        "be deployed by automation. An enabled Key Vault certificate whose expiry date has passed fails. Certificates "
        "without an expiry date are judged by the no-expiry rule."
    )

    def applies(self, c: CredentialFacts) -> bool:
        return c.credential_type == KV_CERTIFICATE and c.enabled is not False and c.expires_at is not None

    def evaluate(self, c: CredentialFacts, ctx: RuleContext) -> Verdict:
        label, expires = _label(c), c.expires_at
        assert expires is not None  # applies(): certificates with an expiry
        if expires <= ctx.now:
            ago = days_between(expires, ctx.now)
            reason = f"{label} expired {day(expires)}, {ago} days ago, and is still enabled"
            return unless_state_unknown(failed(reason, expires_at=iso(expires), days_since_expiry=ago), c.enabled)
        return passed(f"{label} has not expired (expires {day(expires)})", expires_at=iso(expires))


class CertificateExpiringWithoutAutoRenew(Rule):
    id = "kv-certificate-expiring-no-auto-renew"
    credential_types = frozenset({KV_CERTIFICATE})
    title = "Vault certificates close to expiry renew themselves"
    severity = "medium"
    subject = "credential"
    requirements = ("9.2.4.09",)
    scope_kind = CERTIFICATES_SCOPE
    explanation = (
        "A certificate whose policy has an AutoRenew lifetime action is renewed by Key Vault; one without it is renewed "
        "only if someone acts in time. An enabled Key Vault certificate fails when it expires within the policy's "
        "warning window (30 days by default), counted in whole days, and its policy has no AutoRenew action. One "
        "already expired passes here because the expired-certificate rule reports it, and one whose policy could not "
        "be read is not assessed."
    )

    def applies(self, c: CredentialFacts) -> bool:
        return c.credential_type == KV_CERTIFICATE and c.enabled is not False and c.expires_at is not None

    def evaluate(self, c: CredentialFacts, ctx: RuleContext) -> Verdict:
        label, expires, window = _label(c), c.expires_at, ctx.policy.kv_certificate_warning_days
        assert expires is not None  # applies(): certificates with an expiry
        auto_renew = c.attributes.get("auto_renew")
        auto_renew = auto_renew if isinstance(auto_renew, bool) else None
        data = {"expires_at": iso(expires), "warning_days": window, "auto_renew": auto_renew}
        if expires <= ctx.now:
            return passed(f"{label} already expired {day(expires)}; reported by kv-certificate-expired-enabled", **data)
        left = days_between(ctx.now, expires)
        data["days_left"] = left
        reason = f"{label} expires {day(expires)}, in {left} days, warning window {window} days"
        if left > window:
            return passed(reason, **data)
        if auto_renew is True:
            return passed(f"{reason}; its policy renews it automatically", **data)
        if auto_renew is None:
            return not_assessed(f"{reason}; whether its policy renews it automatically is unknown", **data)
        return unless_state_unknown(failed(f"{reason}, and its policy does not renew it automatically", **data), c.enabled)
