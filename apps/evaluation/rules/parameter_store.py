"""Rules about SSM Parameter Store: SecureString parameters changed or set to expire, and
plaintext parameters whose names say they hold a secret."""

from __future__ import annotations

from apps.evaluation.rules._shared import SSM_PLAINTEXT_PARAMETER, SSM_SECURE_STRING, credential_label, day, iso, judge_age
from apps.evaluation.rules.base import CredentialFacts, Rule, RuleContext, Verdict, failed, not_assessed, passed


class SecureStringNotChanged(Rule):
    id = "ssm-parameter-not-changed"
    credential_types = frozenset({SSM_SECURE_STRING})
    title = "SecureString parameters are changed within their limit or set to expire"
    severity = "medium"
    subject = "credential"
    requirements = ("9.2.4.08",)
    scope_kind = "aws_ssm"
    explanation = (
        "Parameter Store has no managed rotation: a SecureString parameter is rotated by overwriting it, which "
        "AWS records as its last modified date. A parameter fails when more whole days than the rotation limit for "
        "its class (by the policy's tag and name rules; 90 days by default) have passed since it was last modified "
        "and it carries no Expiration policy. A parameter with an Expiration policy passes, the expiry date shown, "
        "because AWS deletes it then. When its policies could not be read, an overdue parameter is not assessed."
    )

    def applies(self, c: CredentialFacts) -> bool:
        return c.credential_type == SSM_SECURE_STRING

    def evaluate(self, c: CredentialFacts, ctx: RuleContext) -> Verdict:
        label = credential_label(c)
        if c.expires_at is not None:
            return passed(f"{label} has an Expiration policy: AWS deletes it on {day(c.expires_at)}", expires_at=iso(c.expires_at))
        verdict = judge_age(c, ctx.now, ctx.policy.rotation_limit(c.credential_class), label, rotated="last change", created="creation")
        if verdict.status == "fail":
            problems = c.attributes.get("policy_errors") or []
            if problems:
                return not_assessed(f"{verdict.reason}; its parameter policies could not be read: {str(problems[0])[:200]}", **verdict.data)
            return failed(f"{verdict.reason}, and no Expiration policy", **verdict.data)
        return verdict


class PlaintextSecretName(Rule):
    id = "ssm-plaintext-secret-name"
    credential_types = frozenset({SSM_PLAINTEXT_PARAMETER})
    title = "Parameters that hold secrets are stored encrypted"
    severity = "high"
    subject = "credential"
    requirements = ("9.2.4.05", "9.3.1.03")
    scope_kind = "aws_ssm"
    explanation = (
        "A plaintext String or StringList parameter can be read by anyone allowed to read parameters, with no KMS "
        "key standing between them and the value, and it shows in consoles and logs. keytrail never reads a "
        "parameter's value; it flags each plaintext parameter whose name looks like a secret's (password, secret, "
        "token, api_key, private key, credential, ...). Store such a value as a SecureString parameter or in "
        "Secrets Manager, or rename the parameter if it holds no secret."
    )

    def applies(self, c: CredentialFacts) -> bool:
        return c.credential_type == SSM_PLAINTEXT_PARAMETER

    def evaluate(self, c: CredentialFacts, ctx: RuleContext) -> Verdict:
        match = str(c.attributes.get("secret_name_match") or "")[:60]
        kind = str(c.attributes.get("parameter_type") or "String")[:20]
        return failed(
            f"{credential_label(c)} is a plaintext {kind} parameter whose name looks like a secret ('{match}'); its value was not read",
            parameter_type=kind,
            matched=match,
        )
