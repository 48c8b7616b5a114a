"""Rules about Azure Key Vault secrets: a bounded expiry, renewed in time, updated regularly."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from apps.evaluation.rules._shared import KV_SECRET, day, days_left_tick, in_future, iso, judge_age, next_day_tick, unless_state_unknown
from apps.evaluation.rules.base import (
    FOREVER,
    CredentialFacts,
    Rule,
    RuleContext,
    Verdict,
    days_between,
    failed,
    holding_until,
    not_assessed,
    passed,
)


def _label(c: CredentialFacts) -> str:
    state = "enabled " if c.enabled is True else ("disabled " if c.enabled is False else "")
    return f"{state}Key Vault secret {c.name}"


def _unreadable(c: CredentialFacts, field: str) -> bool:
    """The connector could not read this field (Key Vault's name: exp, nbf, created...)."""
    malformed = c.attributes.get("malformed_fields")
    return field in malformed if malformed else False


def _live_with_expiry(c: CredentialFacts) -> bool:
    return c.credential_type == KV_SECRET and c.enabled is not False and c.expires_at is not None


class NoExpiry(Rule):
    id = "kv-secret-no-expiry"
    credential_types = frozenset({KV_SECRET})
    title = "Enabled vault secrets have an expiry date"
    severity = "medium"
    subject = "credential"
    requirements = ("9.2.4.09",)
    scope_kind = "azure_key_vault"
    explanation = (
        "A secret without an expiry date stays valid for ever, so nothing forces it to be renewed or retired. Every "
        "enabled Key Vault secret fails when it has no expiry date. If the vault returned an expiry value that could "
        "not be read, the secret is not assessed instead."
    )

    def applies(self, c: CredentialFacts) -> bool:
        return c.credential_type == KV_SECRET and c.enabled is not False

    def evaluate(self, c: CredentialFacts, ctx: RuleContext) -> Verdict:
        label = _label(c)
        if c.expires_at is not None:
            return passed(f"{label} expires {day(c.expires_at)}", has_expiry=True, expires_at=iso(c.expires_at))
        if _unreadable(c, "exp"):
            return not_assessed(f"{label}: its expiry date could not be read", has_expiry=None)
        return unless_state_unknown(failed(f"{label} has no expiry date", has_expiry=False), c.enabled)


class ExpiredEnabled(Rule):
    id = "kv-secret-expired-enabled"
    credential_types = frozenset({KV_SECRET})
    title = "Expired vault secrets are disabled"
    severity = "high"
    subject = "credential"
    requirements = ("9.2.4.09",)
    scope_kind = "azure_key_vault"
    explanation = (
        "A secret past its expiry date should have been renewed or disabled; leaving it enabled means either a "
        "consumer still uses an expired secret or nobody noticed it is dead. An enabled Key Vault secret whose expiry "
        "date has passed fails. Secrets without an expiry date are judged by the no-expiry rule."
    )

    def applies(self, c: CredentialFacts) -> bool:
        return _live_with_expiry(c)

    def evaluate(self, c: CredentialFacts, ctx: RuleContext) -> Verdict:
        label, expires = _label(c), c.expires_at
        assert expires is not None  # applies(): secrets with an expiry
        data: dict[str, Any] = {"expires_at": iso(expires)}
        if expires < ctx.now:
            data["days_since_expiry"] = days_between(expires, ctx.now)
            verdict = failed(f"{label} expired {day(expires)}, {data['days_since_expiry']} days ago, and is still enabled", **data)
            return unless_state_unknown(holding_until(verdict, next_day_tick(expires, data["days_since_expiry"])), c.enabled)
        return holding_until(passed(f"{label} has not expired (expires {day(expires)})", **data), expires + timedelta(microseconds=1))


class ExpiringSoon(Rule):
    id = "kv-secret-expiring-soon"
    credential_types = frozenset({KV_SECRET})
    title = "Vault secrets close to expiry are renewed in time"
    severity = "low"
    subject = "credential"
    requirements = ("9.2.4.09",)
    scope_kind = "azure_key_vault"
    explanation = (
        "Renewal should be planned, not rushed on the day a secret stops working. An enabled Key Vault secret fails "
        "when it expires within the policy's warning window (30 days by default), counted in whole days. A secret "
        "that has already expired passes here because the expired-secret rule reports it."
    )

    def applies(self, c: CredentialFacts) -> bool:
        return _live_with_expiry(c)

    def evaluate(self, c: CredentialFacts, ctx: RuleContext) -> Verdict:
        label, expires, window = _label(c), c.expires_at, ctx.policy.kv_expiry_warning_days
        assert expires is not None  # applies(): secrets with an expiry
        if expires <= ctx.now:
            verdict = passed(
                f"{label} already expired {day(expires)}; reported by kv-secret-expired-enabled",
                expires_at=iso(expires),
                warning_days=window,
            )
            return holding_until(verdict, FOREVER)
        left = days_between(ctx.now, expires)
        data = {"expires_at": iso(expires), "days_left": left, "warning_days": window}
        reason = f"{label} expires {day(expires)}, in {left} days, warning window {window} days"
        tick = days_left_tick(expires, left)
        if left <= window:
            return unless_state_unknown(holding_until(failed(reason, **data), tick), c.enabled)
        return holding_until(passed(reason, **data), tick)


class ValidityTooLong(Rule):
    id = "kv-secret-validity-too-long"
    credential_types = frozenset({KV_SECRET})
    title = "Vault secrets are not valid for longer than the policy allows"
    severity = "low"
    subject = "credential"
    requirements = ("9.2.4.09",)
    scope_kind = "azure_key_vault"
    explanation = (
        "An expiry date years away is hardly better than none. A Key Vault secret with an expiry date fails when its "
        "validity, from its not-before date (or else the creation of its current version) to its expiry, is more "
        "whole days than the policy maximum (365 by default). A creation date in the future or an expiry before the "
        "start leaves the secret not assessed."
    )

    def applies(self, c: CredentialFacts) -> bool:
        return c.credential_type == KV_SECRET and c.expires_at is not None

    def evaluate(self, c: CredentialFacts, ctx: RuleContext) -> Verdict:
        label, limit, expires = _label(c), ctx.policy.kv_max_validity_days, c.expires_at
        assert expires is not None  # applies(): secrets with an expiry
        # The current version's creation is when this value became valid; ``last_rotated_at``
        # can be a later property edit (``updated``), which would understate the validity.
        if c.not_before is not None:
            start, basis, what = c.not_before, "not_before", "not-before date"
        elif c.created_at is not None:
            start, basis, what = c.created_at, "created_at", "creation"
        elif c.last_rotated_at is not None:
            start, basis, what = c.last_rotated_at, "last_rotated_at", "last update"
        else:
            return not_assessed(f"{label}: neither a not-before nor a creation date is known", limit_days=limit, expires_at=iso(expires))
        if basis != "not_before" and start > ctx.now:
            return in_future(label, what, start, basis=basis, basis_date=iso(start))
        if expires < start:
            verdict = not_assessed(
                f"{label}: expiry {day(expires)} is before its {what} {day(start)}",
                basis=basis,
                basis_date=iso(start),
                expires_at=iso(expires),
            )
            return holding_until(verdict, FOREVER)  # the clock was read only to refuse a future start
        validity = days_between(start, expires)
        data = {"validity_days": validity, "limit_days": limit, "basis": basis, "basis_date": iso(start), "expires_at": iso(expires)}
        reason = f"{label} valid for {validity} days, from its {what} {day(start)} to {day(expires)}, limit {limit} days"
        # The clock was read only to refuse a start in the future, which it no longer is.
        return holding_until(failed(reason, **data) if validity > limit else passed(reason, **data), FOREVER)


class NotUpdated(Rule):
    id = "kv-secret-not-updated"
    credential_types = frozenset({KV_SECRET})
    title = "Enabled vault secrets are rotated within the limit for their class"
    severity = "medium"
    subject = "credential"
    requirements = ("9.2.4.08",)
    scope_kind = "azure_key_vault"
    explanation = (
        "Each enabled Key Vault secret's age since its newest version was created is compared with the rotation limit "
        "for its class, which the policy derives from tags and name patterns. When the versions could not be listed "
        "the vault's last-updated date stands in, which a property edit also moves; a secret never given a new "
        "version is measured from its creation."
    )

    def applies(self, c: CredentialFacts) -> bool:
        return c.credential_type == KV_SECRET and c.enabled is not False

    def evaluate(self, c: CredentialFacts, ctx: RuleContext) -> Verdict:
        verdict = judge_age(c, ctx.now, ctx.policy.rotation_limit(c.credential_class), _label(c), created="creation (never rotated)")
        return unless_state_unknown(verdict, c.enabled)
