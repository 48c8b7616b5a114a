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
    "ssh-key-rotation-age": "apps.evaluation.rules.iam_credentials.SshKeyRotationAge",
    "service-credential-rotation-age": "apps.evaluation.rules.iam_credentials.ServiceCredentialRotationAge",
    "signing-certificate-human-active": "apps.evaluation.rules.iam_credentials.SigningCertificateOnHuman",
    "server-certificate-expiry": "apps.evaluation.rules.iam_credentials.ServerCertificateExpiry",
    "ssm-parameter-not-changed": "apps.evaluation.rules.parameter_store.SecureStringNotChanged",
    "ssm-plaintext-secret-name": "apps.evaluation.rules.parameter_store.PlaintextSecretName",
    "credential-not-reviewed": "apps.evaluation.rules.reviews.CredentialNotReviewed",
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
