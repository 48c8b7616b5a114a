"""Rules about IAM users' access keys: age, use, pairs of active keys, keys left inactive."""

from __future__ import annotations

from apps.evaluation.rules._shared import (
    ACCESS_KEY,
    CONSOLE_PASSWORD,
    day,
    in_future,
    iso,
    judge_age,
    judge_last_use,
    key_label,
    never_used,
    next_day_tick,
    short_id,
    unless_state_unknown,
)
from apps.evaluation.rules.base import (
    CredentialFacts,
    IdentityFacts,
    Rule,
    RuleContext,
    Verdict,
    days_between,
    failed,
    holding_until,
    not_assessed,
    passed,
)

# A key created and never used is only flagged once it is this many days old, so that a
# key issued this morning is not reported before anyone could have used it.
NEVER_USED_GRACE_DAYS = 1


class KeyRotationAge(Rule):
    id = "iam-key-rotation-age"
    credential_types = frozenset({ACCESS_KEY})
    title = "Active access keys are rotated within the limit for their class"
    severity = "medium"
    subject = "credential"
    requirements = ("9.2.4.08",)
    scope_kind = "aws_iam"
    explanation = (
        "Every active IAM access key is compared with the rotation limit the policy sets for its class "
        "(90 days for IAM user keys by default). AWS rotates a key by replacing it, so the key's creation date is "
        "its last rotation; a key fails when more whole days than the limit have passed since then. "
        "Inactive keys are left to the rule on inactive keys, and a key with no known or a future date is not assessed."
    )

    def applies(self, c: CredentialFacts) -> bool:
        return c.credential_type == ACCESS_KEY and c.enabled is not False

    def evaluate(self, c: CredentialFacts, ctx: RuleContext) -> Verdict:
        limit = ctx.policy.rotation_limit(c.credential_class)
        return unless_state_unknown(judge_age(c, ctx.now, limit, key_label(c)), c.enabled)


class KeyUnused(Rule):
    id = "iam-key-unused"
    credential_types = frozenset({ACCESS_KEY})
    title = "Active access keys have been used recently"
    severity = "medium"
    subject = "credential"
    requirements = ("9.2.4.12",)
    scope_kind = "aws_iam"
    explanation = (
        "An active access key fails when it has not been used for more days than the policy's unused limit "
        "(45 by default). A key that was never used is judged on its age instead, so it fails only once it is "
        "older than the limit. When AWS reported neither a last-use date nor that the key was never used, or the "
        "creation date is unknown, the key is not assessed."
    )

    def applies(self, c: CredentialFacts) -> bool:
        return c.credential_type == ACCESS_KEY and c.enabled is not False

    def evaluate(self, c: CredentialFacts, ctx: RuleContext) -> Verdict:
        return unless_state_unknown(judge_last_use(c, ctx.now, ctx.policy.unused_days, key_label(c)), c.enabled)


class KeyNeverUsedSinceCreation(Rule):
    id = "iam-key-never-used-since-creation"
    credential_types = frozenset({ACCESS_KEY})
    title = "No unused access keys issued to console users"
    severity = "low"
    subject = "credential"
    requirements = ("9.2.4.03", "9.2.4.12")
    scope_kind = "aws_iam"
    explanation = (
        "Access keys should be issued on request, not created by default when a user is set up. An active key "
        "fails when it has never been used, is at least a day old, and belongs to a user who also has a console "
        "password: the usual trace of a key made at user setup that nobody needed. Keys of users without console "
        "access, and keys that have been used, pass."
    )

    def applies(self, c: CredentialFacts) -> bool:
        return c.credential_type == ACCESS_KEY and c.enabled is not False

    def evaluate(self, c: CredentialFacts, ctx: RuleContext) -> Verdict:
        label = key_label(c)
        unused = never_used(c)
        if c.last_used_at is not None:  # never_used() is False
            return passed(f"{label}: used on {day(c.last_used_at)}", never_used=False, last_used_at=iso(c.last_used_at))
        if unused is None:
            return not_assessed(
                f"{label}: whether it was ever used is unknown", last_used_status=str(c.attributes.get("last_used_status"))[:40]
            )
        if c.identity is None:
            return not_assessed(f"{label}: never used, and the user it belongs to is not in the inventory", never_used=True)
        if c.created_at is None:
            return not_assessed(f"{label}: never used, creation date unknown", never_used=True)
        if c.created_at > ctx.now:
            return in_future(label, "creation", c.created_at, never_used=True, created_at=iso(c.created_at))
        age = days_between(c.created_at, ctx.now)
        user = c.identity.name
        console = any(o.credential_type == CONSOLE_PASSWORD and o.enabled is not False for o in c.identity.credentials)
        data = {"never_used": True, "created_at": iso(c.created_at), "age_days": age, "user_has_console_password": console}
        tick = next_day_tick(c.created_at, age)  # the age in days is in every verdict from here
        if not console:
            return holding_until(passed(f"{label}: never used, but user {user} has no console password", **data), tick)
        if age < NEVER_USED_GRACE_DAYS:
            return holding_until(passed(f"{label}: never used, created {day(c.created_at)}, less than a day ago", **data), tick)
        verdict = failed(
            f"{label}: never used since its creation on {day(c.created_at)}, {age} days ago; user {user} also has a console password",
            **data,
        )
        return unless_state_unknown(holding_until(verdict, tick), c.enabled)


class TwoActiveKeys(Rule):
    id = "iam-key-two-active"
    title = "No user keeps two active access keys"
    severity = "medium"
    subject = "identity"
    requirements = ("9.2.4.08",)
    scope_kind = "aws_iam"
    explanation = (
        "AWS allows two access keys per user so that a key can be replaced without downtime; once consumers have "
        "moved to the new key the old one should be deactivated and deleted. A user with two active keys fails, "
        "even during a rotation in progress: a deliberate overlap belongs in the exception register with an expiry. "
        "When a key's status is unknown and it could make a second active key, the user is not assessed."
    )

    def applies(self, i: IdentityFacts) -> bool:
        return any(c.credential_type == ACCESS_KEY for c in i.credentials)

    def evaluate(self, i: IdentityFacts, ctx: RuleContext) -> Verdict:
        keys = [c for c in i.credentials if c.credential_type == ACCESS_KEY]
        active = [c for c in keys if c.enabled is True]
        unknown = [c for c in keys if c.enabled is None]
        data = {"access_keys": len(keys), "active_keys": len(active), "unknown_status_keys": len(unknown)}
        if len(active) >= 2:
            listed = ", ".join(
                f"{short_id(c.external_id)} (created {day(c.created_at) if c.created_at else 'date unknown'})" for c in active
            )
            return failed(f"user {i.name} has {len(active)} active access keys: {listed}", **data)
        if len(active) + len(unknown) >= 2:
            return not_assessed(f"user {i.name} has {len(active)} active access key(s) and {len(unknown)} of unknown status", **data)
        return passed(f"user {i.name} has {len(active)} active access key(s) of {len(keys)}", **data)


class InactiveKeyNotRemoved(Rule):
    id = "iam-key-inactive-not-removed"
    credential_types = frozenset({ACCESS_KEY})
    title = "Deactivated access keys are deleted promptly"
    severity = "low"
    subject = "credential"
    requirements = ("9.2.4.11",)
    scope_kind = "aws_iam"
    explanation = (
        "A deactivated key can be switched back on by anyone allowed to manage the user, so revocation is complete "
        "only when the key is deleted. An inactive key fails once more days than the policy allows (30 by default) "
        "have passed since its last recorded change; AWS does not report when a key was deactivated, so without a "
        "change date the rotation or creation date is used as an upper bound, and the reason says which date was used."
    )

    def applies(self, c: CredentialFacts) -> bool:
        return c.credential_type == ACCESS_KEY and c.enabled is False

    def evaluate(self, c: CredentialFacts, ctx: RuleContext) -> Verdict:
        label = key_label(c)
        limit = ctx.policy.inactive_key_max_days
        if c.last_changed_at is not None:
            base, basis, what = c.last_changed_at, "last_changed_at", "last change"
        elif c.last_rotated_at is not None:
            base, basis, what = c.last_rotated_at, "last_rotated_at", "last rotation (no deactivation date recorded)"
        elif c.created_at is not None:
            base, basis, what = c.created_at, "created_at", "creation (no deactivation date recorded)"
        else:
            return not_assessed(f"{label}: no change, rotation or creation date is known", limit_days=limit)
        if base > ctx.now:
            return in_future(label, what.split(" (", 1)[0], base, basis=basis, basis_date=iso(base))
        days = days_between(base, ctx.now)
        data = {"days_since": days, "limit_days": limit, "basis": basis, "basis_date": iso(base)}
        reason = f"{label}, {days} days since {what} on {day(base)}, limit {limit} days"
        return holding_until(failed(reason, **data) if days > limit else passed(reason, **data), next_day_tick(base, days))
