"""The one explicit registry of connectors: kind -> dotted path, imported lazily.

Adding a connector means adding a line here (see docs/connectors.md); nothing registers
itself by being imported.
"""

from __future__ import annotations

from functools import cache

from django.utils.module_loading import import_string

from apps.connectors.base import Connector

CONNECTORS: dict[str, str] = {
    "aws_iam": "apps.connectors.aws.iam.IamConnector",
    "aws_secrets_manager": "apps.connectors.aws.secrets_manager.SecretsManagerConnector",
    "azure_key_vault": "apps.connectors.azure.key_vault.KeyVaultConnector",
}


@cache
def connector_class(kind: str) -> type[Connector]:
    """Return the connector class for ``kind``; raises KeyError for an unknown kind."""
    return import_string(CONNECTORS[kind])


def get_connector(kind: str) -> Connector:
    return connector_class(kind)()
