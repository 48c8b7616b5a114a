"""Rules about the AWS account root user: no access keys, MFA on."""

from __future__ import annotations

from apps.evaluation.rules._shared import ROOT, ROOT_ACCESS_KEY, day, iso
from apps.evaluation.rules.base import (
    CredentialFacts,
    IdentityFacts,
    Rule,
    RuleContext,
    Verdict,
    failed,
    not_assessed,
    passed,
)


def _account(external_id: str) -> str:
    """``arn:aws:iam::123456789012:root`` -> ``123456789012``."""
    parts = external_id.split(":")
    return parts[4] if len(parts) > 5 and parts[4] else external_id


class RootAccessKeyActive(Rule):
    id = "root-access-key-active"
    credential_types = frozenset({ROOT_ACCESS_KEY})
    title = "The root user has no active access key"
    severity = "critical"
    subject = "credential"
    requirements = ("9.2.4.15",)
    scope_kind = "aws_iam"
    explanation = (
        "An access key of the root user carries unlimited power over the account and cannot be restricted by any "
        "policy, so none should be active. An active root key fails; an inactive one passes here but should still "
        "be deleted. When AWS only said that root keys exist, without their state, the key is not assessed."
    )

    def applies(self, c: CredentialFacts) -> bool:
        return c.credential_type == ROOT_ACCESS_KEY

    def evaluate(self, c: CredentialFacts, ctx: RuleContext) -> Verdict:
        label = f"root access key {c.external_id}"
        used = f", last used {day(c.last_used_at)}" if c.last_used_at else ", no use recorded"
        data = {"enabled": c.enabled, "last_used_at": iso(c.last_used_at)}
        if c.enabled is True:
            return failed(f"{label} is active{used}", **data)
        if c.enabled is False:
            return passed(f"{label} is inactive{used}; delete it to finish revoking it", **data)
        return not_assessed(f"{label}: AWS reported that root access keys exist but not whether they are active", **data)


class RootNoMfa(Rule):
    id = "root-no-mfa"
    title = "The root user has MFA"
    severity = "critical"
    subject = "identity"
    requirements = ("9.2.4.15",)
    scope_kind = "aws_iam"
    explanation = (
        "The root user can do anything in the account, including closing it, so its sign-in must be protected by "
        "an MFA device. The rule fails when AWS reports root MFA as off, and is not assessed when neither the "
        "credential report nor the account summary could tell."
    )

    def applies(self, i: IdentityFacts) -> bool:
        return i.kind == ROOT

    def evaluate(self, i: IdentityFacts, ctx: RuleContext) -> Verdict:
        attributes = i.data.get("attributes") if isinstance(i.data, dict) else None
        basis = str((attributes or {}).get("mfa_basis") or "unknown")[:40]
        label = f"root user of AWS account {_account(i.external_id)}"
        data = {"mfa_active": i.mfa_active, "mfa_basis": basis}
        if i.mfa_active is True:
            return passed(f"{label}: MFA active (from {basis})", **data)
        if i.mfa_active is False:
            return failed(f"{label}: MFA not active (from {basis})", **data)
        return not_assessed(f"{label}: MFA state unknown", **data)
