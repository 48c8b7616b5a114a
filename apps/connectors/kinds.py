"""The one vocabulary of kinds: sources, identities and credentials, each with its label.

Everything else derives from these enums: the inventory models' ``choices``
(``Source.Kind``, ``Identity.Kind``, ``Credential.Type`` are these classes), the forms and
the API's enums, and the rules' constants. Which of them are *offered* (in forms, to
validation) is what the registered connectors say they serve and yield
(:mod:`apps.connectors.registry`).

These are plain ``TextChoices`` enums (``str`` subclasses): importing them touches no
model and no database.
"""

from __future__ import annotations

from django.db.models.enums import TextChoices


class SourceKind(TextChoices):
    """A place credentials are collected from; one source is split into collection units."""

    AWS_ACCOUNT = "aws_account", "AWS account"
    AZURE_KEY_VAULT = "azure_key_vault", "Azure Key Vault"
    AWS_ORGANIZATION = "aws_organization", "AWS organisation"  # its member accounts become aws_account sources
    AZURE_SUBSCRIPTION = "azure_subscription", "Azure subscription"  # its Key Vaults become azure_key_vault sources
    ENTRA_TENANT = "entra_tenant", "Entra ID tenant"  # app registrations and service principals, via Microsoft Graph


class IdentityKind(TextChoices):
    HUMAN = "human", "Human"
    SERVICE = "service", "Non-human"  # service accounts, CI, automation
    ROOT = "root", "Root account"


class CredentialKind(TextChoices):
    CONSOLE_PASSWORD = "console_password", "Console password"
    ACCESS_KEY = "access_key", "IAM access key"
    ROOT_ACCESS_KEY = "root_access_key", "Root access key"
    SM_SECRET = "sm_secret", "Secrets Manager secret"  # AWS Secrets Manager secret
    KV_SECRET = "kv_secret", "Key Vault secret"  # Azure Key Vault secret
    SSH_PUBLIC_KEY = "ssh_public_key", "IAM SSH public key"  # CodeCommit SSH keys of IAM users
    SERVICE_CREDENTIAL = "service_credential", "Service-specific credential"  # CodeCommit / Keyspaces passwords
    SIGNING_CERTIFICATE = "signing_certificate", "IAM signing certificate"  # a user's X.509 signing certificate
    SERVER_CERTIFICATE = "server_certificate", "IAM server certificate"  # TLS certificates stored in IAM
    SSM_SECURE_STRING = "ssm_secure_string", "SSM SecureString parameter"  # Parameter Store, encrypted
    # A plaintext String/StringList parameter whose name looks like a secret's: collected so the
    # finding has a subject; its value is never read.
    SSM_PLAINTEXT_PARAMETER = "ssm_plaintext", "SSM plaintext parameter (secret-like name)"
    KV_KEY = "kv_key", "Key Vault key"  # Azure Key Vault key: its attributes and rotation policy, never the key
    KV_CERTIFICATE = "kv_certificate", "Key Vault certificate"  # its attributes and policy, never the certificate
    # Credentials an Entra ID application or service principal signs in with (passwordCredentials,
    # keyCredentials in Microsoft Graph). Only their metadata: never a value, not even Graph's hint.
    ENTRA_CLIENT_SECRET = "entra_client_secret", "Entra ID client secret"
    ENTRA_CERTIFICATE = "entra_certificate", "Entra ID certificate credential"


# The facts of a kind that its generic columns (dates, enabled, expiry, tags) do not carry, as
# ``(attribute key, label)``: kept from the credential's collected ``attributes`` in the evidence
# pack (``details``), shown as columns of the kind's own spreadsheet sheet. Kinds not listed
# here have no details beyond the generic columns.
DETAIL_ATTRIBUTES: dict[str, tuple[tuple[str, str], ...]] = {
    CredentialKind.SSH_PUBLIC_KEY.value: (("status", "status"), ("listed_at", "listed at (as of)")),
    CredentialKind.SERVICE_CREDENTIAL.value: (
        ("status", "status"),
        ("service_name", "service"),
        ("service_user_name", "service user name"),
        ("listed_at", "listed at (as of)"),
    ),
    CredentialKind.SIGNING_CERTIFICATE.value: (("status", "status"), ("listed_at", "listed at (as of)")),
    CredentialKind.SERVER_CERTIFICATE.value: (("server_certificate_id", "certificate id"), ("path", "path")),
    CredentialKind.SSM_SECURE_STRING.value: (
        ("region", "region"),
        ("tier", "tier"),
        ("kms_key_id", "KMS key"),
        ("last_modified_user", "last modified by"),
        ("version", "version"),
        ("policies", "parameter policies"),
        ("policy_errors", "unreadable policies"),
    ),
    CredentialKind.SSM_PLAINTEXT_PARAMETER.value: (
        ("region", "region"),
        ("parameter_type", "parameter type"),
        ("secret_name_match", "secret-like word in name"),
        ("tier", "tier"),
        ("last_modified_user", "last modified by"),
        ("version", "version"),
    ),
    CredentialKind.KV_KEY.value: (
        ("vault_url", "vault"),
        ("rotation_policy", "rotation policy (Rotate action)"),
        ("rotation_trigger", "rotation trigger"),
        ("policy_expiry_time", "policy expiry time"),
        ("version_count", "versions"),
        ("managed", "managed"),
        ("recovery_level", "recovery level"),
    ),
    CredentialKind.KV_CERTIFICATE.value: (
        ("vault_url", "vault"),
        ("issuer", "issuer"),
        ("auto_renew", "auto-renew"),
        ("lifetime_actions", "lifetime actions"),
        ("validity_months", "validity (months)"),
        ("subject", "subject"),
        ("thumbprint", "thumbprint (x5t)"),
        ("version_count", "versions"),
        ("recovery_level", "recovery level"),
    ),
    CredentialKind.ENTRA_CLIENT_SECRET.value: (
        ("object_type", "held by"),
        ("app_id", "application (client) id"),
        ("app_owner_organization_id", "owning tenant"),
        ("foreign_tenant", "another tenant's application"),
        ("owners", "owners"),
        ("key_id", "key id"),
    ),
    CredentialKind.ENTRA_CERTIFICATE.value: (
        ("object_type", "held by"),
        ("app_id", "application (client) id"),
        ("app_owner_organization_id", "owning tenant"),
        ("foreign_tenant", "another tenant's application"),
        ("owners", "owners"),
        ("key_id", "key id"),
        ("key_type", "key type"),
        ("usage", "usage"),
    ),
}
