"""Rules about accountability: an owner and a request reference on every issued secret."""

from __future__ import annotations

from apps.evaluation.rules._shared import (
    ACCESS_KEY,
    CONSOLE_PASSWORD,
    KV_CERTIFICATE,
    KV_KEY,
    KV_SECRET,
    SERVICE,
    SERVICE_CREDENTIAL,
    SIGNING_CERTIFICATE,
    SM_SECRET,
    SSH_PUBLIC_KEY,
    SSM_PLAINTEXT_PARAMETER,
    SSM_SECURE_STRING,
    credential_label,
)
from apps.evaluation.rules.base import CredentialFacts, Rule, RuleContext, Verdict, failed, not_assessed, passed

# Server certificates are left out: keytrail does not read their tags (ListServerCertificateTags).
_SECRETS = frozenset({SM_SECRET, KV_SECRET, SSM_SECURE_STRING, SSM_PLAINTEXT_PARAMETER, KV_KEY, KV_CERTIFICATE})
_SERVICE_USER_CREDENTIALS = frozenset({ACCESS_KEY, CONSOLE_PASSWORD, SSH_PUBLIC_KEY, SERVICE_CREDENTIAL, SIGNING_CERTIFICATE})
_REQUEST_POPULATION = frozenset({ACCESS_KEY, SM_SECRET, KV_SECRET, SSM_SECURE_STRING, SSH_PUBLIC_KEY, SERVICE_CREDENTIAL})


def _tags_unreadable(c: CredentialFacts) -> bool:
    malformed = c.attributes.get("malformed_fields")
    return "tags" in malformed if malformed else False


def _find_tag(c: CredentialFacts, keys: tuple[str, ...], tag_value) -> tuple[str, str]:
    """(value, where): the first non-blank tag among ``keys`` on the credential, then on its
    identity; ``("", "")`` when neither has one."""
    # Most credentials carry no tags at all (IAM access keys cannot be tagged): skip the lookup.
    value = tag_value(c.tags, keys) if c.tags else ""
    if value:
        return value, "credential"
    if c.identity is not None and c.identity.tags:
        value = tag_value(c.identity.tags, keys)
        if value:
            return value, "identity"
    return "", ""


def _judge_tag(c: CredentialFacts, keys: tuple[str, ...], ctx: RuleContext, what: str) -> Verdict:
    label = credential_label(c)
    looked = ", ".join(keys)
    if _tags_unreadable(c):
        return not_assessed(f"{label}: its tags could not be read in the latest collection", tag_keys=looked)
    value, where = _find_tag(c, keys, ctx.policy.tag_value)
    on = "on the credential or its user" if c.identity is not None else "on the credential"
    if not value:
        return failed(f"{label} has no {what} tag {on} (looked for {looked})", tag_keys=looked, found=False)
    return passed(
        f"{label} has {what} tag value '{value[:120]}' on the {'user' if where == 'identity' else where}",
        tag_keys=looked,
        found=True,
        value=value[:200],
        found_on=where,
    )


class OwnerTagMissing(Rule):
    id = "owner-tag-missing"
    credential_types = _SECRETS | _SERVICE_USER_CREDENTIALS
    title = "Every secret and non-human credential has an accountable owner"
    severity = "medium"
    subject = "credential"
    requirements = ("9.2.4.03", "9.2.4.13")
    # Fed by every connector; coverage of each is reported by source-coverage.
    scope_kind = ("aws_iam", "aws_secrets_manager", "aws_ssm", "azure_key_vault", "azure_key_vault_keys", "azure_key_vault_certificates")
    explanation = (
        "Secrets and the credentials of non-human users need a named person who answers for them, reviews them and "
        "rotates them. Every Secrets Manager and Key Vault secret, Key Vault key and certificate, and SSM parameter keytrail collects, and every "
        "access key, console password, SSH key, service-specific credential or signing certificate of a service user, "
        "fails when none of the policy's owner tag keys carries a non-blank value; for a user's credentials the "
        "user's own tags count too. Any non-blank value counts as present, whatever it contains."
    )

    def applies(self, c: CredentialFacts) -> bool:
        kind = c.credential_type
        if kind in _SECRETS:
            return True
        return kind in _SERVICE_USER_CREDENTIALS and c.identity is not None and c.identity.kind == SERVICE

    def evaluate(self, c: CredentialFacts, ctx: RuleContext) -> Verdict:
        return _judge_tag(c, ctx.policy.owner_tag_keys, ctx, "owner")


class RequestReferenceMissing(Rule):
    id = "request-reference-missing"
    credential_types = _REQUEST_POPULATION
    title = "Issued keys and secrets trace back to an approved request"
    severity = "low"
    subject = "credential"
    requirements = ("9.2.4.03",)
    scope_kind = ("aws_iam", "aws_secrets_manager", "aws_ssm", "azure_key_vault")
    explanation = (
        "Each access key, SSH key, service-specific credential, vault secret and SecureString parameter should be "
        "traceable to the approved request that produced it. One fails when none of the policy's request tag keys "
        "carries a non-blank value; IAM users' keys and credentials cannot be tagged, so for them the tags of the user "
        "that owns them count. Whether the reference points to a real, "
        "approved request is checked by sampling, not here."
    )

    def applies(self, c: CredentialFacts) -> bool:
        return c.credential_type in _REQUEST_POPULATION

    def evaluate(self, c: CredentialFacts, ctx: RuleContext) -> Verdict:
        return _judge_tag(c, ctx.policy.request_tag_keys, ctx, "request reference")
