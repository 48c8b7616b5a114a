"""The workbook's sheets for credential kinds with facts of their own: one sheet per group of
kinds, its columns the generic ones followed by the kinds' details
(:data:`apps.connectors.kinds.DETAIL_ATTRIBUTES`), so a tester filters SSM parameters by tier
or KMS key, or server certificates by expiry, without unpacking JSON.

The rows are the same credentials as the "credential inventory" sheet (same ids); a sheet is
written even when empty, so its absence never reads as "not collected".
"""

from __future__ import annotations

from typing import Any

from openpyxl import Workbook

from apps.connectors.kinds import DETAIL_ATTRIBUTES, CredentialKind
from apps.evidence.packdata import PackData, of_types
from apps.evidence.renderers.sheet import BOOL, DATETIME, INT, TEXT, Sheet

# Sheet title -> the kinds it holds (titles: at most 31 characters, Excel's limit).
KIND_SHEETS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "IAM user keys and certificates",
        (CredentialKind.SSH_PUBLIC_KEY.value, CredentialKind.SERVICE_CREDENTIAL.value, CredentialKind.SIGNING_CERTIFICATE.value),
    ),
    ("IAM server certificates", (CredentialKind.SERVER_CERTIFICATE.value,)),
    ("SSM parameters", (CredentialKind.SSM_SECURE_STRING.value, CredentialKind.SSM_PLAINTEXT_PARAMETER.value)),
    ("Key Vault keys", (CredentialKind.KV_KEY.value,)),
    ("Key Vault certificates", (CredentialKind.KV_CERTIFICATE.value,)),
    ("Entra ID app credentials", (CredentialKind.ENTRA_CLIENT_SECRET.value, CredentialKind.ENTRA_CERTIFICATE.value)),
)

# (header, width, cell kind, key of the pack's credential row)
_GENERIC: tuple[tuple[str, int, str, str], ...] = (
    ("credential id", 12, INT, "id"),
    ("type", 18, TEXT, "credential_type"),
    ("name", 36, TEXT, "name"),
    ("external id", 40, TEXT, "external_id"),
    ("identity", 24, TEXT, "identity"),
    ("enabled", 8, BOOL, "enabled"),
    ("created / uploaded", 17, DATETIME, "created_at"),
    ("last rotated / modified", 17, DATETIME, "last_rotated_at"),
    ("expires", 17, DATETIME, "expires_at"),
    ("age (days)", 10, INT, "age_days"),
    ("owner", 28, TEXT, "owner"),
    ("tags", 40, TEXT, "tags"),
)


def detail_columns(kinds: tuple[str, ...]) -> list[tuple[str, str]]:
    """``(attribute key, label)`` of the details of ``kinds``, each key once, in declared order."""
    seen: dict[str, str] = {}
    for kind in kinds:
        for key, label in DETAIL_ATTRIBUTES.get(kind, ()):
            seen.setdefault(key, label)
    return list(seen.items())


def write_kind_sheets(wb: Workbook, data: PackData, sources: dict[int, str]) -> None:
    for title, kinds in KIND_SHEETS:
        details = detail_columns(kinds)
        columns = [("source", 20, TEXT)] + [(h, w, k) for h, w, k, _ in _GENERIC] + [(label, 24, TEXT) for _, label in details]
        wanted = frozenset(kinds)

        def rows(wanted: frozenset[str] = wanted, details: list[tuple[str, str]] = details) -> Any:
            for c in of_types(data.credentials, tuple(sorted(wanted))):
                extra = c.get("details") or {}
                yield [sources.get(c["source_id"], ""), *(c[key] for *_, key in _GENERIC), *(extra.get(key) for key, _ in details)]

        Sheet(wb, title, columns).write(rows())
