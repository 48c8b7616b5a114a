"""An Entra ID tenant as a source: its tenant id and the Microsoft Graph endpoint serving it.

Importing this module builds no client and imports no SDK.
"""

from __future__ import annotations

import re
from urllib.parse import urlparse

from apps.connectors.base import SettingField, SourceConfig, SourceSpec
from apps.connectors.kinds import SourceKind
from apps.core.errors import ValidationFailed

DEFAULT_GRAPH_URL = "https://graph.microsoft.com"
TENANT_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class EntraTenant(SourceSpec):
    kind = SourceKind.ENTRA_TENANT
    key_label = "Entra ID tenant"
    key_setting = "graph_tenant_id"
    fields = (
        SettingField(
            "graph_tenant_id",
            "Tenant ID",
            max_length=36,
            help_text="The directory (tenant) id, a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47.",
        ),
        SettingField(
            "graph_url",
            "Graph endpoint",
            required=False,
            max_length=300,
            help_text="Leave empty for https://graph.microsoft.com; a national cloud's Graph endpoint otherwise.",
            empty=DEFAULT_GRAPH_URL,
        ),
    )

    @classmethod
    def validate(cls, config: SourceConfig) -> SourceConfig:
        tenant = (config.graph_tenant_id or "").strip().lower()
        if not TENANT_ID.match(tenant):
            raise ValidationFailed("Tenant ID: expected the directory id, a GUID like 72f988bf-86f1-41af-91ab-2d7cd011db47")
        url = (config.graph_url or "").strip()
        if url:
            parsed = urlparse(url)
            if (
                parsed.scheme != "https"
                or not parsed.hostname
                or parsed.query
                or parsed.fragment
                or parsed.username
                or parsed.path.strip("/")
            ):
                raise ValidationFailed("Graph endpoint: expected https://<host> (no path), e.g. https://graph.microsoft.com")
            url = url.rstrip("/")
        return SourceConfig(kind=cls.kind.value, graph_tenant_id=tenant, graph_url=url)

    @classmethod
    def source_key(cls, config: SourceConfig) -> str:
        return config.graph_tenant_id

    @classmethod
    def location(cls, config: SourceConfig) -> str:
        return f"{config.graph_url or DEFAULT_GRAPH_URL} (tenant {config.graph_tenant_id})"
