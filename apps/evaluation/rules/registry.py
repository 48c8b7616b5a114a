"""The one explicit registry of rules: id -> dotted path, imported lazily.

The catalog (apps/catalog/data/*.yaml) names these ids under the requirements they test;
tests/evaluation/test_registry.py keeps the two in step.
"""

from __future__ import annotations

from functools import cache

from django.utils.module_loading import import_string

from apps.evaluation.rules.base import Rule

RULES: dict[str, str] = {
    "iam-key-rotation-age": "apps.evaluation.rules.access_keys.KeyRotationAge",
    "iam-key-unused": "apps.evaluation.rules.access_keys.KeyUnused",
    "iam-key-never-used-since-creation": "apps.evaluation.rules.access_keys.KeyNeverUsedSinceCreation",
    "iam-key-two-active": "apps.evaluation.rules.access_keys.TwoActiveKeys",
    "iam-key-inactive-not-removed": "apps.evaluation.rules.access_keys.InactiveKeyNotRemoved",
    "console-password-no-mfa": "apps.evaluation.rules.console.ConsolePasswordNoMfa",
    "console-password-unused": "apps.evaluation.rules.console.ConsolePasswordUnused",
    "human-console-and-keys": "apps.evaluation.rules.console.HumanConsoleAndKeys",
    "privileged-user-no-mfa": "apps.evaluation.rules.console.PrivilegedUserNoMfa",
    "root-access-key-active": "apps.evaluation.rules.root.RootAccessKeyActive",
    "root-no-mfa": "apps.evaluation.rules.root.RootNoMfa",
    "password-policy-missing": "apps.evaluation.rules.password_policy.PasswordPolicyMissing",
    "password-policy-weak": "apps.evaluation.rules.password_policy.PasswordPolicyWeak",
    "owner-tag-missing": "apps.evaluation.rules.ownership.OwnerTagMissing",
    "request-reference-missing": "apps.evaluation.rules.ownership.RequestReferenceMissing",
    "sm-rotation-disabled": "apps.evaluation.rules.secrets_manager.RotationDisabled",
    "sm-not-rotated-within-limit": "apps.evaluation.rules.secrets_manager.NotRotatedWithinLimit",
    "sm-rotation-overdue": "apps.evaluation.rules.secrets_manager.RotationOverdue",
    "sm-not-accessed": "apps.evaluation.rules.secrets_manager.NotAccessed",
    "sm-scheduled-deletion": "apps.evaluation.rules.secrets_manager.ScheduledDeletion",
    "kv-secret-no-expiry": "apps.evaluation.rules.key_vault.NoExpiry",
    "kv-secret-expired-enabled": "apps.evaluation.rules.key_vault.ExpiredEnabled",
    "kv-secret-expiring-soon": "apps.evaluation.rules.key_vault.ExpiringSoon",
    "kv-secret-validity-too-long": "apps.evaluation.rules.key_vault.ValidityTooLong",
    "kv-secret-not-updated": "apps.evaluation.rules.key_vault.NotUpdated",
    "kv-vault-protected-storage": "apps.evaluation.rules.key_vault_estate.VaultProtectedStorage",
    "kv-vault-secret-readers": "apps.evaluation.rules.key_vault_estate.VaultSecretReaders",
    "kv-vault-audit-logging": "apps.evaluation.rules.key_vault_estate.VaultAuditLogging",
    "kv-key-no-expiry": "apps.evaluation.rules.key_vault_items.KeyNoExpiry",
    "kv-key-rotation-policy": "apps.evaluation.rules.key_vault_items.KeyRotationPolicy",
    "kv-certificate-no-expiry": "apps.evaluation.rules.key_vault_items.CertificateNoExpiry",
    "kv-certificate-expired-enabled": "apps.evaluation.rules.key_vault_items.CertificateExpiredEnabled",
    "kv-certificate-expiring-no-auto-renew": "apps.evaluation.rules.key_vault_items.CertificateExpiringWithoutAutoRenew",
    "ssh-key-rotation-age": "apps.evaluation.rules.iam_credentials.SshKeyRotationAge",
    "service-credential-rotation-age": "apps.evaluation.rules.iam_credentials.ServiceCredentialRotationAge",
    "signing-certificate-human-active": "apps.evaluation.rules.iam_credentials.SigningCertificateOnHuman",
    "server-certificate-expiry": "apps.evaluation.rules.iam_credentials.ServerCertificateExpiry",
    "ssm-parameter-not-changed": "apps.evaluation.rules.parameter_store.SecureStringNotChanged",
    "ssm-plaintext-secret-name": "apps.evaluation.rules.parameter_store.PlaintextSecretName",
    "entra-secret-lifetime-too-long": "apps.evaluation.rules.entra.SecretLifetimeTooLong",
    "entra-credential-expired-present": "apps.evaluation.rules.entra.ExpiredStillPresent",
    "entra-app-no-owner": "apps.evaluation.rules.entra.AppWithoutOwner",
    "entra-app-multiple-secrets": "apps.evaluation.rules.entra.MultipleActiveSecrets",
    "entra-foreign-app-credential-age": "apps.evaluation.rules.entra.ForeignAppCredentialAge",
    "credential-not-reviewed": "apps.evaluation.rules.reviews.CredentialNotReviewed",
    "console-password-initial-unchanged": "apps.evaluation.rules.initial_secrets.ConsolePasswordInitialUnchanged",
    "console-password-no-reset-required": "apps.evaluation.rules.initial_secrets.ConsolePasswordNoResetRequired",
    "sm-initial-version-not-rotated": "apps.evaluation.rules.initial_secrets.SecretInitialVersionNotRotated",
    "break-glass-mfa": "apps.evaluation.rules.identity_controls.BreakGlassMfa",
    "break-glass-no-access-keys": "apps.evaluation.rules.identity_controls.BreakGlassNoAccessKeys",
    "break-glass-unused": "apps.evaluation.rules.identity_controls.BreakGlassUnused",
    "break-glass-owner": "apps.evaluation.rules.identity_controls.BreakGlassOwner",
    "sso-identity-center-not-used": "apps.evaluation.rules.identity_controls.IdentityCenterNotUsed",
    "console-password-user-share": "apps.evaluation.rules.identity_controls.ConsolePasswordUserShare",
    "console-password-outside-sso": "apps.evaluation.rules.identity_controls.ConsolePasswordOutsideSso",
    "third-party-user-no-expiry": "apps.evaluation.rules.identity_controls.ThirdPartyUserNoExpiry",
    "third-party-key-age": "apps.evaluation.rules.identity_controls.ThirdPartyKeyAge",
    "role-external-trust-no-external-id": "apps.evaluation.rules.identity_controls.RoleExternalTrustNoExternalId",
    "source-coverage": "apps.evaluation.rules.coverage.SourceCoverage",
    "sm-resource-policy-broad-read": "apps.evaluation.rules.secret_access.SecretResourcePolicyBroadRead",
    "iam-broad-secret-read": "apps.evaluation.rules.secret_access.BroadSecretReaders",
    "cloudtrail-multi-region-trail": "apps.evaluation.rules.cloudtrail.CloudTrailMultiRegion",
}


@cache
def get_rule(rule_id: str) -> Rule:
    """The rule instance for ``rule_id``; raises KeyError for an unknown id."""
    return import_string(RULES[rule_id])()


def all_rules() -> list[Rule]:
    return [get_rule(rule_id) for rule_id in RULES]
