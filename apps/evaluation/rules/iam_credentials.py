"""Rules about the IAM credentials besides passwords and access keys: SSH public keys,
service-specific credentials, signing certificates and server certificates."""

from __future__ import annotations

from apps.evaluation.rules._shared import (
    HUMAN,
    SERVER_CERTIFICATE,
    SERVICE_CREDENTIAL,
    SIGNING_CERTIFICATE,
    SSH_PUBLIC_KEY,
    credential_label,
    day,
    days_left_tick,
    iso,
    judge_age,
    next_day_tick,
    unless_state_unknown,
)
from apps.evaluation.rules.base import (
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


class _ReplacedByAge(Rule):
    """An active credential of ``credential_type`` older than its class's rotation limit fails."""

    credential_type = ""
    severity = "medium"
    subject = "credential"
    requirements = ("9.2.4.08",)
    scope_kind = "aws_iam"

    def applies(self, c: CredentialFacts) -> bool:
        return c.credential_type == self.credential_type and c.enabled is not False

    def evaluate(self, c: CredentialFacts, ctx: RuleContext) -> Verdict:
        limit = ctx.policy.rotation_limit(c.credential_class)
        verdict = judge_age(c, ctx.now, limit, credential_label(c), rotated="upload", created="creation")
        return unless_state_unknown(verdict, c.enabled)


class SshKeyRotationAge(_ReplacedByAge):
    id = "ssh-key-rotation-age"
    credential_types = frozenset({SSH_PUBLIC_KEY})
    title = "Active SSH public keys of IAM users are replaced within their limit"
    credential_type = SSH_PUBLIC_KEY
    explanation = (
        "IAM users' SSH public keys (used for CodeCommit) are rotated by uploading a new key and removing the old "
        "one, so an active key's upload date is its last rotation. A key fails when more whole days than the limit "
        "for class ssh-key (365 by default) have passed since it was uploaded. Inactive keys are not judged; a key "
        "whose status or date is unknown is not assessed. AWS records no last use for SSH keys."
    )


class ServiceCredentialRotationAge(_ReplacedByAge):
    id = "service-credential-rotation-age"
    credential_types = frozenset({SERVICE_CREDENTIAL})
    title = "Active service-specific credentials are replaced within their limit"
    credential_type = SERVICE_CREDENTIAL
    explanation = (
        "Service-specific credentials (CodeCommit Git passwords, Amazon Keyspaces passwords) are passwords issued "
        "to an IAM user for one service. AWS reports only their creation date, so an active one fails when more whole "
        "days than the limit for class service-credential (90 by default) have passed since it was created: replace "
        "it by creating a new one and deleting the old. Inactive ones are not judged."
    )


class SigningCertificateOnHuman(Rule):
    id = "signing-certificate-human-active"
    credential_types = frozenset({SIGNING_CERTIFICATE})
    title = "People do not hold active X.509 signing certificates"
    severity = "medium"
    subject = "credential"
    requirements = ("9.3.1.09",)
    scope_kind = "aws_iam"
    explanation = (
        "An X.509 signing certificate lets its holder sign API requests to the few services that still accept them, "
        "a long-lived credential outside the console's MFA. People should sign in interactively instead; an active "
        "signing certificate on a user keytrail classifies as a person fails. An inactive one passes (deleting it is "
        "still tidier); one whose status is unknown is not assessed."
    )

    def applies(self, c: CredentialFacts) -> bool:
        return c.credential_type == SIGNING_CERTIFICATE and c.identity is not None and c.identity.kind == HUMAN

    def evaluate(self, c: CredentialFacts, ctx: RuleContext) -> Verdict:
        label = credential_label(c)
        if c.enabled is True:
            return failed(f"{label} is active on a person's user; people should sign in, not sign requests", status="Active")
        if c.enabled is False:
            return passed(f"{label} is inactive", status=str(c.attributes.get("status") or "Inactive"))
        return not_assessed(f"{label}: AWS did not report its status", status=None)


class ServerCertificateExpiry(Rule):
    id = "server-certificate-expiry"
    credential_types = frozenset({SERVER_CERTIFICATE})
    title = "IAM server certificates are renewed before they expire"
    severity = "high"
    subject = "credential"
    requirements = ("9.2.4.09",)
    scope_kind = "aws_iam"
    explanation = (
        "A TLS certificate stored in IAM (for load balancers and CloudFront) that expires breaks the service using "
        "it, and an expired one left in IAM may still be attached somewhere. A server certificate fails when it has "
        "expired, or when it expires within the policy's certificate warning window (30 days by default), counted "
        "in whole days. When AWS reported no expiry date it is not assessed."
    )

    def applies(self, c: CredentialFacts) -> bool:
        return c.credential_type == SERVER_CERTIFICATE

    def evaluate(self, c: CredentialFacts, ctx: RuleContext) -> Verdict:
        label, expires, window = credential_label(c), c.expires_at, ctx.policy.certificate_expiry_warning_days
        if expires is None:
            return not_assessed(f"{label}: AWS reported no expiry date", warning_days=window)
        if expires <= ctx.now:
            ago = days_between(expires, ctx.now)
            verdict = failed(f"{label} expired {day(expires)}, {ago} days ago, and is still in IAM", expires_at=iso(expires), expired=True)
            return holding_until(verdict, next_day_tick(expires, ago))
        left = days_between(ctx.now, expires)
        data = {"expires_at": iso(expires), "days_left": left, "warning_days": window, "expired": False}
        reason = f"{label} expires {day(expires)}, in {left} days, warning window {window} days"
        return holding_until(failed(reason, **data) if left <= window else passed(reason, **data), days_left_tick(expires, left))
