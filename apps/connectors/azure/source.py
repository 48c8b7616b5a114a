"""An Azure Key Vault as a source: its URL. Importing this module imports no SDK."""

from __future__ import annotations

from urllib.parse import urlparse

from apps.connectors.base import SettingField, SourceConfig, SourceSpec
from apps.connectors.kinds import SourceKind
from apps.core.errors import ValidationFailed


class KeyVault(SourceSpec):
    kind = SourceKind.AZURE_KEY_VAULT
    key_label = "Key Vault"
    key_setting = "vault_url"
    fields = (SettingField("vault_url", "Vault URL", max_length=300, help_text="https://<vault-name>.vault.azure.net/"),)

    @classmethod
    def validate(cls, config: SourceConfig) -> SourceConfig:
        url = (config.vault_url or "").strip()
        parsed = urlparse(url)
        if parsed.scheme != "https" or not parsed.hostname or parsed.query or parsed.fragment or parsed.username:
            raise ValidationFailed("Vault URL: expected https://<vault-name>.vault.azure.net/")
        return SourceConfig(kind=cls.kind.value, vault_url=url.rstrip("/") + "/")

    @classmethod
    def source_key(cls, config: SourceConfig) -> str:
        return config.vault_url

    @classmethod
    def location(cls, config: SourceConfig) -> str:
        return config.vault_url
