"""The one explicit registry of connectors: kind -> dotted path, imported lazily.

Adding a connector means adding a line here (see docs/connectors.md); nothing registers
itself by being imported. Everything that differs by kind of source or credential is
answered from the registered classes' self-description (:class:`~apps.connectors.base.Connector`):
which kinds of source exist and how each is validated and split into units, which
credential and identity kinds can be collected. Callers never branch on a kind.
"""

from __future__ import annotations

from functools import cache

from django.utils.module_loading import import_string

from apps.connectors.base import Connector, SourceConfig, SourceSpec, Target
from apps.connectors.kinds import CredentialKind, IdentityKind
from apps.core.errors import ValidationFailed

# In this order units are planned and kinds are offered.
CONNECTORS: dict[str, str] = {
    "aws_iam": "apps.connectors.aws.iam.IamConnector",
    "aws_secrets_manager": "apps.connectors.aws.secrets_manager.SecretsManagerConnector",
    "aws_regions": "apps.connectors.aws.regions.RegionsConnector",
    "aws_ssm": "apps.connectors.aws.ssm.ParameterStoreConnector",
    "azure_key_vault": "apps.connectors.azure.key_vault.KeyVaultConnector",
    # Each vault's keys and certificates are units of their own (a 403 on one leaves the others collected).
    "azure_key_vault_keys": "apps.connectors.azure.vault_items.KeyVaultKeysConnector",
    "azure_key_vault_certificates": "apps.connectors.azure.vault_items.KeyVaultCertificatesConnector",
    "aws_organization": "apps.connectors.aws.organization.OrganizationConnector",
    "azure_subscription": "apps.connectors.azure.subscription.SubscriptionConnector",
    "entra_id": "apps.connectors.azure.entra.connector.EntraConnector",
}


@cache
def connector_class(kind: str) -> type[Connector]:
    """Return the connector class for ``kind``; raises KeyError for an unknown kind."""
    cls: type[Connector] = import_string(CONNECTORS[kind])
    return cls


def get_connector(kind: str) -> Connector:
    """Return a new instance of the connector registered as ``kind`` (KeyError if none)."""
    return connector_class(kind)()


def connector_classes() -> list[type[Connector]]:
    """Every registered connector class, in registry order."""
    return [connector_class(kind) for kind in CONNECTORS]


def source_specs() -> list[type[SourceSpec]]:
    """The kinds of source the registered connectors serve, each once, in registry order."""
    specs: list[type[SourceSpec]] = []
    for cls in connector_classes():
        if cls.source not in specs:
            specs.append(cls.source)
    return specs


def source_kind_choices() -> list[tuple[str, str]]:
    """``(value, label)`` of every kind of source that can be registered."""
    return [(spec.kind.value, str(spec.kind.label)) for spec in source_specs()]


def source_spec(kind: str) -> type[SourceSpec]:
    """The spec of source kind ``kind``; raises ValidationFailed naming the known kinds."""
    for spec in source_specs():
        if spec.kind == kind:
            return spec
    raise ValidationFailed(f"Kind: choose one of {', '.join(value for value, _ in source_kind_choices())}.")


def validate_source_config(config: SourceConfig) -> SourceConfig:
    """``config`` normalised by its kind's spec; raises ValidationFailed ("<setting>: ...")."""
    return source_spec(config.kind).validate(config)


def plan_units(config: SourceConfig) -> list[Target]:
    """The collection units of a source with (validated) ``config``: each connector serving
    its kind contributes its targets, in registry order. ``Target.unit`` is the unit's scope."""
    return [target for cls in connector_classes() if cls.source.kind == config.kind for target in cls.targets(config)]


def source_facts_connectors() -> frozenset[str]:
    """Kinds of the connectors whose snapshot facts are their source's account-level facts."""
    return frozenset(cls.kind for cls in connector_classes() if cls.provides_source_facts)


def credential_kinds() -> list[CredentialKind]:
    """Every credential kind the registered connectors yield, each once, in registry order."""
    kinds: list[CredentialKind] = []
    for cls in connector_classes():
        kinds.extend(k for k in cls.credential_kinds if k not in kinds)
    return kinds


def credential_kind_choices() -> list[tuple[str, str]]:
    """``(value, label)`` of every credential kind that can be collected, as forms offer them."""
    return [(k.value, str(k.label)) for k in credential_kinds()]


def identity_kind_choices() -> list[tuple[str, str]]:
    """``(value, label)`` of every identity kind the registered connectors yield."""
    kinds: list[IdentityKind] = []
    for cls in connector_classes():
        kinds.extend(k for k in cls.identity_kinds if k not in kinds)
    return [(k.value, str(k.label)) for k in kinds]
