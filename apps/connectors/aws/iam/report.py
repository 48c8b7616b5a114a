"""The IAM credential report: one CSV row per user (and ``<root_account>``), parsed.

Every sentinel AWS (or moto) writes (``N/A``, ``not_supported``, ``no_information``,
empty) parses as ``None``; a cell that is neither a sentinel nor a valid value becomes a
``problems`` entry on its row, and the rest of the row stands.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from apps.connectors.base import ConnectorError

ROOT_ROW_USER = "<root_account>"

# Values AWS (and moto) put in credential-report cells that mean "no value".
REPORT_SENTINELS = frozenset({"", "n/a", "not_supported", "no_information", "none"})

REQUIRED_COLUMNS = frozenset(
    {
        "user",
        "arn",
        "user_creation_time",
        "password_enabled",
        "password_last_used",
        "password_last_changed",
        "mfa_active",
        "access_key_1_active",
        "access_key_1_last_rotated",
        "access_key_1_last_used_date",
        "access_key_2_active",
        "access_key_2_last_rotated",
        "access_key_2_last_used_date",
    }
)

# The columns whose values decide what ListAccessKeys would return (ids, status,
# creation). Last-used columns are left out on purpose: a key being used changes its
# row every day, but its id does not change, and last use comes from the report anyway.
KEY_DIGEST_COLUMNS = (
    "arn",
    "user_creation_time",
    "access_key_1_active",
    "access_key_1_last_rotated",
    "access_key_2_active",
    "access_key_2_last_rotated",
)


def parse_report_datetime(value: str | None) -> datetime | None:
    """A credential-report date as an aware UTC datetime; ``None`` for every sentinel.

    Accepts the ISO-8601 forms AWS uses (``+00:00``, ``Z``, fractional seconds, date
    only). Raises ``ValueError`` for anything else.
    """
    if value is None or value.strip().lower() in REPORT_SENTINELS:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_report_bool(value: str | None) -> bool | None:
    """``true``/``false`` -> bool; sentinels -> ``None``; raises ``ValueError`` otherwise."""
    if value is None or value.strip().lower() in REPORT_SENTINELS:
        return None
    text = value.strip().lower()
    if text in {"true", "false"}:
        return text == "true"
    raise ValueError(f"not a boolean: {value!r}")


def report_text(value: str | None) -> str | None:
    if value is None or value.strip().lower() in REPORT_SENTINELS:
        return None
    return value.strip()


def key_digest(raw: dict[str, str | None]) -> str:
    """Digest of the report columns that decide a user's access-key ids and status."""
    material = "\x1f".join(str(raw.get(column) or "") for column in KEY_DIGEST_COLUMNS)
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]


@dataclass(slots=True)  # one per user of the account: no per-instance __dict__
class ReportKey:
    slot: int
    active: bool | None
    last_rotated: datetime | None  # AWS: the key's creation time
    last_used: datetime | None
    last_used_region: str | None
    last_used_service: str | None


@dataclass(slots=True)  # one per user of the account: no per-instance __dict__
class ReportRow:
    user: str
    arn: str
    created_at: datetime | None
    password_enabled: bool | None
    password_last_used: datetime | None
    password_last_changed: datetime | None
    password_next_rotation: datetime | None
    mfa_active: bool | None
    keys: list[ReportKey]
    digest: str
    problems: list[str] = field(default_factory=list)  # "column: value" that did not parse
    # Whether the user holds an X.509 signing certificate (cert_N_active / cert_N_last_rotated);
    # None when the report has no such columns: then only listing the user's certificates can say.
    signing_certificates: bool | None = None


def _parse_row(raw: dict[str, str | None]) -> ReportRow:
    problems: list[str] = []

    def cell(column: str, parse: Any) -> Any:
        value = raw.get(column)
        try:
            return parse(value)
        except (ValueError, TypeError):
            problems.append(f"{column}={value!r}")
            return None

    keys = []
    for slot in (1, 2):
        prefix = f"access_key_{slot}_"
        key = ReportKey(
            slot=slot,
            active=cell(prefix + "active", parse_report_bool),
            last_rotated=cell(prefix + "last_rotated", parse_report_datetime),
            last_used=cell(prefix + "last_used_date", parse_report_datetime),
            last_used_region=report_text(raw.get(prefix + "last_used_region")),
            last_used_service=report_text(raw.get(prefix + "last_used_service")),
        )
        # A slot exists when AWS reports a creation time or an active key.
        if key.last_rotated is not None or key.active:
            keys.append(key)
    certificates: bool | None = None
    if any(f"cert_{slot}_active" in raw for slot in (1, 2)):
        certificates = any(
            cell(f"cert_{slot}_active", parse_report_bool) or cell(f"cert_{slot}_last_rotated", parse_report_datetime) is not None
            for slot in (1, 2)
        )
    return ReportRow(
        user=(raw.get("user") or "").strip(),
        arn=(raw.get("arn") or "").strip(),
        created_at=cell("user_creation_time", parse_report_datetime),
        password_enabled=cell("password_enabled", parse_report_bool),
        password_last_used=cell("password_last_used", parse_report_datetime),
        password_last_changed=cell("password_last_changed", parse_report_datetime),
        password_next_rotation=cell("password_next_rotation", parse_report_datetime),
        mfa_active=cell("mfa_active", parse_report_bool),
        keys=keys,
        digest=key_digest(raw),
        problems=problems,
        signing_certificates=certificates,
    )


def report_lines(text: str) -> Iterator[str]:
    """The report's lines, each with its ``\n``, as ``io.StringIO(text)`` would give them, one at
    a time: a StringIO copies the whole text into four bytes a character (an 80 MB buffer for a
    20 MB report of 50,000 users) before the first line is read."""
    start, end = 0, len(text)
    while start < end:
        stop = text.find("\n", start)
        stop = end if stop < 0 else stop + 1
        yield text[start:stop]
        start = stop


def parse_credential_report(content: bytes | str) -> list[ReportRow]:
    """Parse the report CSV. Raises ``ConnectorError(malformed_response)`` if unusable."""
    try:
        text = content.decode("utf-8-sig") if isinstance(content, bytes) else content
    except UnicodeDecodeError as exc:
        raise ConnectorError(f"credential report is not UTF-8: {exc}", code="malformed_response") from exc
    reader = csv.DictReader(report_lines(text))
    columns = set(reader.fieldnames or [])
    missing = REQUIRED_COLUMNS - columns
    if missing:
        raise ConnectorError(f"credential report lacks columns {sorted(missing)}", code="malformed_response")
    try:
        return [_parse_row(raw) for raw in reader]
    except csv.Error as exc:
        raise ConnectorError(f"credential report is not valid CSV: {exc}", code="malformed_response") from exc
