"""Small builders for the rules' plain facts (no database).

``cred()`` returns an active access key of a human user by default; pass fields to change
it. The credential class is worked out by the policy unless given, exactly as
``apps.evaluation.facts.load_facts`` does it.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from apps.evaluation.policy import DEFAULT_POLICY, policy_from_dict
from apps.evaluation.rules.base import CredentialFacts, IdentityFacts, RuleContext, ScopeCoverage, SourceFacts

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
_ids = itertools.count(1)
_DEFAULT = policy_from_dict({})


def ago(days: float = 0, **kwargs) -> datetime:
    return NOW - timedelta(days=days, **kwargs)


def ahead(days: float = 0, **kwargs) -> datetime:
    return NOW + timedelta(days=days, **kwargs)


def ctx(now: datetime = NOW, **policy) -> RuleContext:
    return RuleContext(policy=policy_from_dict({**DEFAULT_POLICY, **policy}), now=now)


def identity(*, credentials=(), **fields) -> IdentityFacts:
    values = dict(
        id=next(_ids),
        source_id=1,
        external_id="arn:aws:iam::123456789012:user/alice",
        name="alice",
        kind="human",
        created_at=ago(400),
        privileged=False,
        mfa_active=True,
        owner="",
        tags={},
        data={},
    )
    values.update(fields)
    person = IdentityFacts(**values)
    for c in credentials:
        attach(person, c)
    return person


def attach(person: IdentityFacts, c: CredentialFacts) -> CredentialFacts:
    c.identity = person
    person.credentials.append(c)
    return c


_DEFAULT_NAMES = {
    "access_key": "alice access key 1",
    "console_password": "alice console password",
    "root_access_key": "root access key 1",
    "sm_secret": "prod/app/config",
    "kv_secret": "app-config",
    "ssh_public_key": "ci-bot SSH public key APKAEXAMPLE00001",
    "service_credential": "ci-bot codecommit.amazonaws.com credential",
    "signing_certificate": "alice signing certificate CERTEXAMPLE0",
    "server_certificate": "web-2026",
    "ssm_secure_string": "/prod/app/settings",
    "ssm_plaintext": "/prod/legacy/smtp_password",
    "kv_key": "orders-signing",
    "kv_certificate": "www-example",
    "entra_client_secret": "ci deploy",
    "entra_certificate": "CN=billing",
}
_DEFAULT_IDS = {
    "access_key": "AKIAIOSFODNN7EXAMPLE",
    "console_password": "arn:aws:iam::123456789012:user/alice#console-password",
    "root_access_key": "123456789012#root-key-1",
    "sm_secret": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/app/config-AbCdEf",
    "kv_secret": "https://v.vault.azure.net/secrets/app-config",
    "ssh_public_key": "APKAEXAMPLE00001",
    "service_credential": "ACCAEXAMPLE00001",
    "signing_certificate": "CERTEXAMPLE0000000000000000000001",
    "server_certificate": "arn:aws:iam::123456789012:server-certificate/web-2026",
    "ssm_secure_string": "arn:aws:ssm:eu-west-1:123456789012:parameter/prod/app/settings",
    "ssm_plaintext": "arn:aws:ssm:eu-west-1:123456789012:parameter/prod/legacy/smtp_password",
    "kv_key": "https://v.vault.azure.net/keys/orders-signing",
    "kv_certificate": "https://v.vault.azure.net/certificates/www-example",
    "entra_client_secret": "applications/0b1e/passwordCredentials/6a1f",
    "entra_certificate": "applications/0b1e/keyCredentials/7c2d",
}
_SCOPES = {
    "sm_secret": "aws_secrets_manager:eu-west-1",
    "kv_secret": "azure_key_vault:https://v.vault.azure.net/",
    "ssm_secure_string": "aws_ssm:eu-west-1",
    "ssm_plaintext": "aws_ssm:eu-west-1",
    "kv_key": "azure_key_vault_keys:https://v.vault.azure.net/",
    "kv_certificate": "azure_key_vault_certificates:https://v.vault.azure.net/",
    "entra_client_secret": "entra_id:72f988bf-0000-4000-8000-00000000cafe",
    "entra_certificate": "entra_id:72f988bf-0000-4000-8000-00000000cafe",
}


def cred(
    credential_type: str = "access_key", *, credential_class: str | None = None, identity: IdentityFacts | None = None, **fields
) -> CredentialFacts:
    name = fields.pop("name", _DEFAULT_NAMES[credential_type])
    tags = fields.pop("tags", {})
    values = dict(
        id=next(_ids),
        source_id=1,
        scope=_SCOPES.get(credential_type, "aws_iam"),
        credential_type=credential_type,
        external_id=_DEFAULT_IDS[credential_type],
        name=name,
        credential_class=credential_class or _DEFAULT.classify(credential_type, name, tags),
        enabled=True,
        created_at=ago(10),
        last_rotated_at=None,
        last_used_at=None,
        last_changed_at=None,
        expires_at=None,
        not_before=None,
        rotation_enabled=None,
        rotation_interval_days=None,
        next_rotation_at=None,
        deleted_at=None,
        owner="",
        tags=tags,
        attributes={},
    )
    if credential_type in ("access_key", "root_access_key"):
        values["last_rotated_at"] = fields.get("created_at", values["created_at"])
    if credential_type == "sm_secret":
        values["rotation_enabled"] = False
    values.update(fields)
    c = CredentialFacts(**values)
    if identity is not None:
        attach(identity, c)
    return c


def key(*, user: IdentityFacts | None = None, **fields) -> CredentialFacts:
    return cred("access_key", identity=user, **fields)


def source(*, scopes=(), iam_facts=None, **fields) -> SourceFacts:
    values = dict(id=next(_ids), name="prod-aws", kind="aws_account", enabled=True, schedule_minutes=60, iam_facts=iam_facts)
    values.update(fields)
    return SourceFacts(**values, scopes=list(scopes))


def scope(
    name: str = "aws_iam", *, status: str = "succeeded", last_success_at: datetime | None = NOW, error: str = "", kind: str | None = None
) -> ScopeCoverage:
    return ScopeCoverage(name, kind or name.split(":", 1)[0], last_success_at, status, error)
