"""The columns of the credential and identity lists' CSV and XLSX exports (declared once, as data)."""

from __future__ import annotations

from apps.core.export import Column

CREDENTIAL_COLUMNS = (
    Column("Id", lambda c: c.pk),
    Column("Source", lambda c: c.source.name),
    Column("Type", lambda c: c.get_credential_type_display()),
    Column("Name", lambda c: c.name),
    Column("External id", lambda c: c.external_id),
    Column("Identity", lambda c: c.identity.name if c.identity_id else ""),
    Column("Owner", lambda c: c.owner),
    Column("Enabled", lambda c: c.enabled),
    Column("Created (UTC)", lambda c: c.created_at),
    Column("Last rotated (UTC)", lambda c: c.last_rotated_at),
    Column("Last used (UTC)", lambda c: c.last_used_at),
    Column("Expires (UTC)", lambda c: c.expires_at),
    Column("Rotation enabled", lambda c: c.rotation_enabled),
    Column("First seen (UTC)", lambda c: c.first_seen_at),
    Column("Disappeared (UTC)", lambda c: c.disappeared_at),
)

IDENTITY_COLUMNS = (
    Column("Id", lambda i: i.pk),
    Column("Source", lambda i: i.source.name),
    Column("Kind", lambda i: i.get_kind_display()),
    Column("Name", lambda i: i.name),
    Column("External id", lambda i: i.external_id),
    Column("Privileged", lambda i: i.privileged),
    Column("MFA active", lambda i: i.mfa_active),
    Column("Owner", lambda i: i.owner),
    Column("Present credentials", lambda i: i.credential_count),
    Column("Created (UTC)", lambda i: i.created_at),
    Column("First seen (UTC)", lambda i: i.first_seen_at),
    Column("Disappeared (UTC)", lambda i: i.disappeared_at),
)
