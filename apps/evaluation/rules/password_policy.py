"""Rules about an AWS account's IAM password policy (GetAccountPasswordPolicy)."""

from __future__ import annotations

from typing import Any

from apps.evaluation.rules.base import Rule, RuleContext, SourceFacts, Verdict, failed, not_assessed, passed

# (AWS GetAccountPasswordPolicy key, organisation policy flag, verdict data key, words for a reason)
_CHARACTER_CLASSES = (
    ("RequireSymbols", "password_require_symbols", "require_symbols", "symbols"),
    ("RequireNumbers", "password_require_numbers", "require_numbers", "numbers"),
    ("RequireUppercaseCharacters", "password_require_uppercase", "require_uppercase", "uppercase letters"),
    ("RequireLowercaseCharacters", "password_require_lowercase", "require_lowercase", "lowercase letters"),
)


def _label(source: SourceFacts) -> str:
    account = str((source.iam_facts or {}).get("account_id") or "")
    if account and account != source.name:
        return f"AWS account {source.name} ({account})"
    return f"AWS account {source.name}"


def _whole(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class PasswordPolicyMissing(Rule):
    id = "password-policy-missing"
    title = "Each AWS account has a password policy"
    severity = "medium"
    subject = "source"
    requirements = ("9.3.1.08",)
    scope_kind = "aws_iam"
    explanation = (
        "Without an account password policy AWS accepts short, simple passwords that never expire. Every collected "
        "AWS account fails when AWS says it has no password policy. When the policy could not be read (for example "
        "the collection role lacked permission) the account is not assessed rather than assumed to be fine."
    )

    def applies(self, s: SourceFacts) -> bool:
        return s.kind == "aws_account" and s.iam_facts is not None

    def evaluate(self, s: SourceFacts, ctx: RuleContext) -> Verdict:
        facts = s.iam_facts or {}
        status = facts.get("password_policy_status")
        policy = facts.get("password_policy")
        label = _label(s)
        if status == "unknown":
            return not_assessed(
                f"{label}: the password policy could not be read in the latest IAM collection", password_policy_status="unknown"
            )
        if status == "absent" or (status is None and "password_policy" in facts and policy is None):
            return failed(f"{label} has no password policy", password_policy_status="absent")
        if isinstance(policy, dict) and policy:
            return passed(f"{label} has a password policy", password_policy_status="present")
        return not_assessed(
            f"{label}: the latest IAM collection holds no readable password policy (status '{str(status)[:20]}')",
            password_policy_status=str(status)[:20],
        )


class PasswordPolicyWeak(Rule):
    id = "password-policy-weak"
    title = "Password policies meet the organisation's minimums"
    severity = "medium"
    subject = "source"
    requirements = ("9.3.1.08",)
    scope_kind = "aws_iam"
    explanation = (
        "An account's password policy is compared with the organisation's minimums: length, maximum age, reuse "
        "prevention, and each required character class. The reason lists every gap. A policy that never expires "
        "passwords fails whenever the organisation sets a maximum age (set it to 0 to not require one), and a "
        "missing or unreadable value counts as a gap. Accounts without a policy are judged by the missing-policy rule."
    )

    def applies(self, s: SourceFacts) -> bool:
        if s.kind != "aws_account" or s.iam_facts is None:
            return False
        policy = s.iam_facts.get("password_policy")
        return isinstance(policy, dict) and bool(policy)

    def evaluate(self, s: SourceFacts, ctx: RuleContext) -> Verdict:
        p = ctx.policy
        assert s.iam_facts is not None  # applies() holds
        policy: dict = s.iam_facts["password_policy"]
        gaps: list[str] = []
        data: dict[str, Any] = {}

        length = _whole(policy.get("MinimumPasswordLength"))
        data["minimum_length"] = length
        if length is None:
            gaps.append(f"minimum length not set (at least {p.password_min_length} required)")
        elif length < p.password_min_length:
            gaps.append(f"minimum length {length} < {p.password_min_length}")

        max_age = _whole(policy.get("MaxPasswordAge"))
        expires = policy.get("ExpirePasswords")
        if expires is False:
            max_age = None  # AWS keeps no age when expiry is off; a stale value must not count
        data["max_age_days"] = max_age
        if p.password_max_age_days:
            if not max_age:
                gaps.append(f"passwords never expire (at most {p.password_max_age_days} days required)")
            elif max_age > p.password_max_age_days:
                gaps.append(f"maximum age {max_age} days > {p.password_max_age_days}")

        reuse = _whole(policy.get("PasswordReusePrevention"))
        data["reuse_prevention"] = reuse
        if p.password_reuse_prevention:
            if not reuse:
                gaps.append(f"password reuse not prevented ({p.password_reuse_prevention} previous required)")
            elif reuse < p.password_reuse_prevention:
                gaps.append(f"reuse prevention {reuse} < {p.password_reuse_prevention}")

        for key, flag, data_key, words in _CHARACTER_CLASSES:
            value = policy.get(key)
            data[data_key] = value if isinstance(value, bool) else None
            if getattr(p, flag) and value is not True:
                gaps.append(f"{words} not required")

        label = _label(s)
        data["gaps"] = len(gaps)
        if gaps:
            return failed(f"password policy of {label} falls short: {'; '.join(gaps)}", **data)
        return passed(
            f"password policy of {label} meets every minimum (length {length}, maximum age "
            f"{max_age or 'not required'}, reuse prevention {reuse or 'not required'})",
            **data,
        )
