"""AWS IAM connector: users, console passwords, access keys, MFA, root, password policy.

One call of :meth:`IamConnector.collect` covers one account (IAM is global). The account
is read account-wide first and per user only where nothing account-wide answers:

1. ``GenerateCredentialReport`` (polled, bounded wait) + ``GetCredentialReport``: one CSV
   row per user (and ``<root_account>``) with password, MFA and access-key state.
2. ``GetAccountAuthorizationDetails`` (paged; filter User, Group, LocalManagedPolicy):
   users with tags, groups, attached and inline policies; groups with theirs; the
   documents of customer-managed policies. Enough to decide ``privileged``.
3. ``ListVirtualMFADevices`` (assigned): which users' MFA is virtual.
4. ``GetAccountPasswordPolicy`` (``NoSuchEntity`` -> ``None``) and ``GetAccountSummary``
   (root MFA / root keys when the report has no root row).
5. ``ListAccessKeys`` only for users whose report row shows a key, because the report
   has no key ids. On a repeat collection, only for users whose key columns changed
   (see :func:`key_digest`); the rest reuse the ids kept in ``state``.

Privileged rule (documented in docs/connectors-aws.md): a user is privileged when the
AWS-managed ``AdministratorAccess`` or ``IAMFullAccess`` is attached to the user or to
one of its groups, or when any inline or customer-managed policy of the user or its
groups has an ``Allow`` statement whose Action is ``*``/``*:*``/``iam:*`` (or which uses
``NotAction``) on Resource ``*`` (or with ``NotResource``). Conditions and permission
boundaries are ignored: over-flagging sends a user to review, under-flagging hides one.
``None`` when an attached customer-managed policy's document was unavailable and
nothing else made the user privileged.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from apps.connectors.aws.client import (
    as_utc,
    aws_errors,
    error_code,
    session_for_target,
    tags_dict,
    translate_error,
)
from apps.connectors.base import (
    CollectionResult,
    Connector,
    ConnectorError,
    CredentialRecord,
    IdentityRecord,
    SourceConfig,
    Target,
)
from apps.connectors.aws.source import AwsAccount, account_target
from apps.connectors.kinds import CredentialKind, IdentityKind

STATE_VERSION = 1
PAGE_SIZE = 1000  # IAM's maximum MaxItems: fewer round trips on large accounts
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

PRIVILEGED_AWS_MANAGED = frozenset({"AdministratorAccess", "IAMFullAccess"})
_AWS_MANAGED_ARN = re.compile(r"^arn:aws[a-z-]*:iam::aws:policy/(?:.*/)?(?P<name>[^/]+)$")
_ADMIN_ACTIONS = frozenset({"*", "*:*", "iam:*"})

KIND_TAG_KEYS = ("identity-type", "identity_type", "identitytype", "type")
SERVICE_TAG_VALUES = frozenset({"service", "machine", "non-human", "nonhuman", "automation", "system", "bot"})
HUMAN_TAG_VALUES = frozenset({"human", "person", "user", "employee"})


# --- credential report parsing ------------------------------------------------------


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


def _report_text(value: str | None) -> str | None:
    if value is None or value.strip().lower() in REPORT_SENTINELS:
        return None
    return value.strip()


def key_digest(raw: dict[str, str | None]) -> str:
    """Digest of the report columns that decide a user's access-key ids and status."""
    material = "\x1f".join(str(raw.get(column) or "") for column in KEY_DIGEST_COLUMNS)
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]


@dataclass
class ReportKey:
    slot: int
    active: bool | None
    last_rotated: datetime | None  # AWS: the key's creation time
    last_used: datetime | None
    last_used_region: str | None
    last_used_service: str | None


@dataclass
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
            last_used_region=_report_text(raw.get(prefix + "last_used_region")),
            last_used_service=_report_text(raw.get(prefix + "last_used_service")),
        )
        # A slot exists when AWS reports a creation time or an active key.
        if key.last_rotated is not None or key.active:
            keys.append(key)
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
    )


def parse_credential_report(content: bytes | str) -> list[ReportRow]:
    """Parse the report CSV. Raises ``ConnectorError(malformed_response)`` if unusable."""
    try:
        text = content.decode("utf-8-sig") if isinstance(content, bytes) else content
    except UnicodeDecodeError as exc:
        raise ConnectorError(f"credential report is not UTF-8: {exc}", code="malformed_response") from exc
    reader = csv.DictReader(io.StringIO(text))
    columns = set(reader.fieldnames or [])
    missing = REQUIRED_COLUMNS - columns
    if missing:
        raise ConnectorError(
            f"credential report lacks columns {sorted(missing)}", code="malformed_response"
        )
    try:
        return [_parse_row(raw) for raw in reader]
    except csv.Error as exc:
        raise ConnectorError(f"credential report is not valid CSV: {exc}", code="malformed_response") from exc


# --- policies and the privileged rule -------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def policy_document(value: Any) -> dict | None:
    """A policy document as a dict (botocore decodes them; raw AWS sends URL-encoded JSON)."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        for text in (value, unquote(value)):
            try:
                parsed = json.loads(text)
            except ValueError:
                continue
            if isinstance(parsed, dict):
                return parsed
    return None


def document_grants_admin(document: dict) -> bool:
    """True when a statement allows every (or every IAM) action on every resource."""
    for statement in _as_list(document.get("Statement")):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        every_resource = "*" in _as_list(statement.get("Resource")) or "NotResource" in statement
        if not every_resource:
            continue
        if "NotAction" in statement:
            return True  # "allow everything except ..." on everything: treat as admin
        actions = {str(action).lower() for action in _as_list(statement.get("Action"))}
        if actions & _ADMIN_ACTIONS:
            return True
    return False


def aws_managed_policy_name(arn: str) -> str | None:
    match = _AWS_MANAGED_ARN.match(arn or "")
    return match["name"] if match else None


class _PolicyIndex:
    """Customer-managed policy documents (default version) and group details by name."""

    def __init__(self, policies: list[dict], groups: list[dict]):
        self.documents: dict[str, dict | None] = {}
        for policy in policies:
            default = next(
                (v for v in policy.get("PolicyVersionList") or [] if v.get("IsDefaultVersion")), None
            )
            self.documents[policy.get("Arn", "")] = policy_document(default.get("Document")) if default else None
        self.groups = {group.get("GroupName"): group for group in groups}
        self._group_results: dict[str, tuple[list[str], list[str], bool]] = {}

    def evaluate(self, owner: str, attached: list[dict], inline: list[dict]) -> tuple[list[str], list[str], bool]:
        """(privileged reasons, policy names, undetermined) for one user or group."""
        reasons: list[str] = []
        names: list[str] = []
        undetermined = False
        for policy in attached or []:
            arn = policy.get("PolicyArn", "")
            names.append(arn)
            managed_name = aws_managed_policy_name(arn)
            if managed_name is not None:
                if managed_name in PRIVILEGED_AWS_MANAGED:
                    reasons.append(f"{owner}managed:{managed_name}")
                continue
            document = self.documents.get(arn)
            if document is None:
                undetermined = True
            elif document_grants_admin(document):
                reasons.append(f"{owner}managed:{arn}")
        for policy in inline or []:
            name = str(policy.get("PolicyName", ""))
            names.append(f"inline:{name}")
            document = policy_document(policy.get("PolicyDocument"))
            if document is None:
                undetermined = True
            elif document_grants_admin(document):
                reasons.append(f"{owner}inline:{name}")
        return reasons, names, undetermined

    def user_privileges(self, user: dict) -> tuple[bool | None, list[str], list[str]]:
        """(privileged, reasons, policies incl. through groups) for a UserDetail."""
        reasons, policies, undetermined = self.evaluate(
            "", user.get("AttachedManagedPolicies"), user.get("UserPolicyList")
        )
        for group_name in user.get("GroupList") or []:
            group = self.groups.get(group_name)
            if group is None:
                undetermined = True
                continue
            if group_name not in self._group_results:  # thousands of users share a few groups
                self._group_results[group_name] = self.evaluate(
                    f"group:{group_name}:", group.get("AttachedManagedPolicies"), group.get("GroupPolicyList")
                )
            g_reasons, g_names, g_undetermined = self._group_results[group_name]
            reasons += g_reasons
            policies += [f"group:{group_name}:{name}" for name in g_names]
            undetermined = undetermined or g_undetermined
        privileged: bool | None = True if reasons else (None if undetermined else False)
        return privileged, reasons, list(dict.fromkeys(policies))


def identity_kind(tags: dict[str, str], password_enabled: bool | None) -> tuple[str, str]:
    """(IdentityKind, basis): an ``identity-type``/``type`` tag wins, else console password."""
    lowered = {key.strip().lower(): value for key, value in tags.items()}
    for key in KIND_TAG_KEYS:
        value = (lowered.get(key) or "").strip().lower()
        if value in SERVICE_TAG_VALUES:
            return IdentityKind.SERVICE.value, f"tag:{key}"
        if value in HUMAN_TAG_VALUES:
            return IdentityKind.HUMAN.value, f"tag:{key}"
    if password_enabled:
        return IdentityKind.HUMAN.value, "console_password"
    return IdentityKind.SERVICE.value, "no_console_password"


# --- access keys ----------------------------------------------------------------------


@dataclass
class ListedKey:
    access_key_id: str
    status: str
    created_at: datetime | None

    def to_state(self) -> dict[str, Any]:
        return {
            "id": self.access_key_id,
            "status": self.status,
            "created_at": self.created_at.isoformat() if self.created_at else None,
        }

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> ListedKey:
        return cls(str(data["id"]), str(data.get("status") or ""), parse_report_datetime(data.get("created_at")))

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> ListedKey:
        return cls(str(data["AccessKeyId"]), str(data.get("Status") or ""), as_utc(data.get("CreateDate")))


def _seconds(value: datetime | None) -> datetime | None:
    return value.replace(microsecond=0) if value else None


def match_keys(listed: list[ListedKey], slots: list[ReportKey]) -> list[tuple[ListedKey, ReportKey | None, str]]:
    """Pair ListAccessKeys results with report slots.

    The report's ``access_key_N_last_rotated`` is the key's creation time (to the
    second), so keys are matched on that; ties and leftovers are paired in creation
    order. A key absent from the report (created after it was generated) gets ``None``.
    Returns ``(key, slot or None, basis)`` with basis ``create_date``/``order``/``not_in_report``.
    """
    keys = sorted(listed, key=lambda k: (k.created_at or datetime.min.replace(tzinfo=UTC), k.access_key_id))
    free = list(keys)
    pairs: dict[str, tuple[ReportKey | None, str]] = {}
    unmatched_slots = []
    for slot in slots:
        match = next((k for k in free if slot.last_rotated and _seconds(k.created_at) == _seconds(slot.last_rotated)), None)
        if match is None:
            unmatched_slots.append(slot)
            continue
        free.remove(match)
        pairs[match.access_key_id] = (slot, "create_date")
    for slot, key in zip(unmatched_slots, list(free), strict=False):
        free.remove(key)
        pairs[key.access_key_id] = (slot, "order")
    for key in free:
        pairs[key.access_key_id] = (None, "not_in_report")
    return [(key, *pairs[key.access_key_id]) for key in keys]


# --- the connector --------------------------------------------------------------------


def _setting(name: str, default: Any) -> Any:
    from django.conf import settings

    return getattr(settings, name, default)


class IamConnector(Connector):
    """Collects one AWS account's IAM users, credentials, MFA, root state and password policy."""

    kind = "aws_iam"
    source = AwsAccount
    # In this order the credential kinds are offered (forms, filters).
    credential_kinds = (CredentialKind.CONSOLE_PASSWORD, CredentialKind.ACCESS_KEY, CredentialKind.ROOT_ACCESS_KEY)
    identity_kinds = (IdentityKind.HUMAN, IdentityKind.SERVICE, IdentityKind.ROOT)
    provides_source_facts = True  # password policy, root MFA and keys: the account's facts

    @classmethod
    def targets(cls, config: SourceConfig) -> list[Target]:
        """One unit: IAM is global to the account."""
        return [account_target(cls.kind, config)]

    def collect(self, target: Target, *, previous_state: dict | None = None) -> CollectionResult:
        result = CollectionResult(target=target)
        aws = session_for_target(target, api_calls=result.api_calls)
        iam = aws.client("iam")
        account_id = aws.account_id

        with aws_errors(f"{target.unit} {account_id}"):
            rows, generated_at = self._credential_report(iam)
            users, groups, policies = self._authorization_details(iam)
        virtual_mfa = self._optional(result, "virtual_mfa_devices", lambda: self._virtual_mfa(iam)) or {}
        password_policy_known, password_policy = self._password_policy(result, iam)
        summary = self._optional(result, "account_summary", lambda: self._summary(iam))

        rows_by_arn: dict[str, ReportRow] = {}
        root_row: ReportRow | None = None
        for row in rows:
            if row.user == ROOT_ROW_USER:
                root_row = row
            else:
                rows_by_arn[row.arn] = row
            if row.problems:
                result.add_error("malformed_value", "; ".join(row.problems), row.arn or row.user)

        partition = aws.partition
        index = _PolicyIndex(policies, groups)
        previous_users = self._previous_users(previous_state)

        known_keys, to_list, reused = self._plan_key_listing(users, rows_by_arn, previous_users)
        listed = self._list_keys(iam, to_list, result)
        known_keys.update(listed)
        login_profiles = self._login_profiles(
            iam, [(u.get("Arn", ""), u.get("UserName", "")) for u in users if u.get("Arn") not in rows_by_arn], result
        )

        state_users: dict[str, Any] = {}
        for user in users:
            arn = user.get("Arn", "")
            row = rows_by_arn.get(arn)
            try:
                self._emit_user(
                    result, iam, user, row, known_keys.get(arn), login_profiles.get(arn), index, virtual_mfa
                )
            except ConnectorError as exc:
                if exc.retryable:
                    raise
                result.add_error(exc.code, str(exc), arn)
                continue
            except Exception as exc:  # noqa: BLE001 - one bad user must not stop the account
                result.add_error("malformed_response", f"{type(exc).__name__}: {exc}", arn)
                continue
            if row is not None and row.keys and arn in known_keys:
                state_users[arn] = {"digest": row.digest, "keys": [k.to_state() for k in known_keys[arn]]}

        root = self._emit_root(result, account_id, partition, root_row, summary, virtual_mfa)
        result.facts = {
            "account_id": account_id,
            "password_policy": password_policy,
            "password_policy_status": (
                "unknown" if not password_policy_known else ("present" if password_policy else "absent")
            ),
            "root": root,
            "credential_report_generated_at": generated_at,
            "collection": {
                "users": len(users),
                "users_missing_from_report": sum(1 for u in users if u.get("Arn") not in rows_by_arn),
                "access_keys_listed_for": len(to_list),
                "access_keys_reused_for": reused,
            },
        }
        result.state = {"version": STATE_VERSION, "users": state_users}
        return result

    @staticmethod
    def _plan_key_listing(
        users: list[dict], rows_by_arn: dict[str, ReportRow], previous_users: dict[str, dict]
    ) -> tuple[dict[str, list[ListedKey]], list[tuple[str, str]], int]:
        """(keys known without asking, (arn, name) pairs to ListAccessKeys for, reused count).

        A user needs ListAccessKeys when the report shows a key and last time's state
        for the same key columns is missing or unreadable; users missing from the
        report (created after it) are always asked.
        """
        known: dict[str, list[ListedKey]] = {}
        to_list: list[tuple[str, str]] = []
        reused = 0
        for user in users:
            arn = user.get("Arn", "")
            row = rows_by_arn.get(arn)
            if row is not None and not row.keys:
                known[arn] = []
                continue
            previous = previous_users.get(arn)
            if row is not None and isinstance(previous, dict) and previous.get("digest") == row.digest:
                try:
                    known[arn] = [ListedKey.from_state(k) for k in previous.get("keys", [])]
                    reused += 1
                    continue
                except (KeyError, TypeError, ValueError):
                    pass  # unreadable state for this user: ask AWS
            to_list.append((arn, user.get("UserName", "")))
        return known, to_list, reused

    # account-wide reads -----------------------------------------------------------

    @staticmethod
    def _credential_report(iam: Any) -> tuple[list[ReportRow], datetime | None]:
        """Generate (or reuse AWS's < 4 h old) report, wait for it boundedly, parse it."""
        max_wait = float(_setting("AWS_CREDENTIAL_REPORT_MAX_WAIT", 120.0))
        poll = float(_setting("AWS_CREDENTIAL_REPORT_POLL_INTERVAL", 2.0))
        deadline = time.monotonic() + max_wait
        wait = min(0.25, poll)  # a small account's report is ready within a second: start short, back off to `poll`
        while True:
            state = iam.generate_credential_report().get("State")
            if state == "COMPLETE":
                try:
                    response = iam.get_credential_report()
                    break
                except Exception as exc:
                    # Expired or replaced between the two calls: generate again.
                    if error_code(exc) not in {"ReportInProgress", "ReportNotPresent", "ReportExpired"}:
                        raise
            if time.monotonic() + wait > deadline:
                raise ConnectorError(
                    f"credential report not ready after {max_wait:.0f}s (state {state})",
                    code="report_timeout",
                    retryable=True,
                )
            time.sleep(wait)
            wait = min(poll, wait * 2)
        if response.get("ReportFormat", "text/csv") != "text/csv":
            raise ConnectorError(f"unexpected report format {response.get('ReportFormat')!r}", code="malformed_response")
        return parse_credential_report(response["Content"]), as_utc(response.get("GeneratedTime"))

    @staticmethod
    def _authorization_details(iam: Any) -> tuple[list[dict], list[dict], list[dict]]:
        users: list[dict] = []
        groups: list[dict] = []
        policies: list[dict] = []
        # AWS-managed policy documents are left out (about a thousand of them); those
        # that matter for the privileged rule are recognised by name.
        paginator = iam.get_paginator("get_account_authorization_details")
        pages = paginator.paginate(
            Filter=["User", "Group", "LocalManagedPolicy"], PaginationConfig={"PageSize": PAGE_SIZE}
        )
        for page in pages:
            users += page.get("UserDetailList") or []
            groups += page.get("GroupDetailList") or []
            policies += page.get("Policies") or []
        return users, groups, policies

    @staticmethod
    def _virtual_mfa(iam: Any) -> dict[str, list[dict[str, Any]]]:
        """Assigned virtual MFA devices by owner ARN (user or root).

        Only the serial, owner and enable date are kept: moto's server also returns the
        TOTP seed and QR code here (AWS does not), and keytrail must never hold them.
        """
        devices: dict[str, list[dict[str, Any]]] = {}
        paginator = iam.get_paginator("list_virtual_mfa_devices")
        for page in paginator.paginate(AssignmentStatus="Assigned", PaginationConfig={"PageSize": PAGE_SIZE}):
            for device in page.get("VirtualMFADevices") or []:
                owner = (device.get("User") or {}).get("Arn")
                if not owner:
                    continue
                enabled_at = as_utc(device.get("EnableDate"))
                devices.setdefault(owner, []).append(
                    {
                        "serial": device.get("SerialNumber"),
                        "type": "virtual",
                        "enabled_at": enabled_at.isoformat() if enabled_at else None,
                    }
                )
        return devices

    def _password_policy(self, result: CollectionResult, iam: Any) -> tuple[bool, dict | None]:
        """(known, policy): ``(True, None)`` means the account has no password policy."""

        def read() -> dict | None:
            try:
                return dict(iam.get_account_password_policy()["PasswordPolicy"])
            except Exception as exc:
                if error_code(exc) == "NoSuchEntity":
                    return None
                raise

        sentinel = object()
        policy = self._optional(result, "password_policy", read, failed=sentinel)
        if policy is sentinel:
            return False, None
        return True, policy

    @staticmethod
    def _summary(iam: Any) -> dict[str, Any]:
        return dict(iam.get_account_summary()["SummaryMap"])

    @staticmethod
    def _optional(result: CollectionResult, item: str, read: Any, failed: Any = None) -> Any:
        """Run an enrichment read; a non-transient failure is recorded, not raised."""
        try:
            return read()
        except Exception as exc:  # noqa: BLE001
            error = translate_error(exc, context=item)
            if error.retryable or error.code == "forbidden_operation":
                raise error from exc
            result.add_error(error.code, str(error), item)
            return failed

    @staticmethod
    def _previous_users(previous_state: dict | None) -> dict[str, dict]:
        if not isinstance(previous_state, dict) or previous_state.get("version") != STATE_VERSION:
            return {}
        users = previous_state.get("users")
        return users if isinstance(users, dict) else {}

    # per-user reads (only where nothing account-wide answers) -------------------------

    @staticmethod
    def _per_user(
        jobs: list[tuple[str, str]], call: Any, result: CollectionResult, item_errors: frozenset[str]
    ) -> dict[str, Any]:
        """Run ``call(user_name)`` for each (arn, name) on a few threads.

        Item-specific failures (``item_errors`` codes, e.g. the user was deleted since
        the report) are recorded per user. Anything transient (throttled beyond
        retries, unreachable) stops the account: a half-listed account must not look
        like users without keys.
        """
        if not jobs:
            return {}
        abort = threading.Event()

        def run(job: tuple[str, str]) -> tuple[str, Any, BaseException | None]:
            arn, name = job
            if abort.is_set():
                return arn, None, None
            try:
                return arn, call(name), None
            except Exception as exc:  # noqa: BLE001
                if error_code(exc) not in item_errors:
                    abort.set()
                return arn, None, exc

        workers = max(1, int(_setting("AWS_IAM_PER_USER_CONCURRENCY", 4)))
        answers: dict[str, Any] = {}
        fatal: BaseException | None = None
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="keytrail-iam") as pool:
            for arn, value, exc in pool.map(run, jobs):
                if exc is None:
                    answers[arn] = value
                    continue
                error = translate_error(exc, context=arn)
                if error_code(exc) in item_errors:
                    result.add_error(error.code, str(error), arn)
                elif fatal is None:
                    fatal = exc
        if fatal is not None:
            raise translate_error(fatal, context="per-user IAM calls") from fatal
        return answers

    def _list_keys(
        self, iam: Any, jobs: list[tuple[str, str]], result: CollectionResult
    ) -> dict[str, list[ListedKey]]:
        def call(user_name: str) -> list[ListedKey]:
            keys: list[ListedKey] = []
            for page in iam.get_paginator("list_access_keys").paginate(UserName=user_name):
                keys += [ListedKey.from_api(item) for item in page.get("AccessKeyMetadata") or []]
            return keys

        return self._per_user(jobs, call, result, frozenset({"NoSuchEntity", "AccessDenied"}))

    def _login_profiles(
        self, iam: Any, jobs: list[tuple[str, str]], result: CollectionResult
    ) -> dict[str, dict | None]:
        """Login profiles of users the report does not know yet (created after it)."""

        def call(user_name: str) -> dict | None:
            try:
                return dict(iam.get_login_profile(UserName=user_name)["LoginProfile"])
            except Exception as exc:
                if error_code(exc) == "NoSuchEntity":
                    return {}  # no console password
                raise

        return self._per_user(jobs, call, result, frozenset({"AccessDenied"}))

    # records -------------------------------------------------------------------------

    def _emit_user(
        self,
        result: CollectionResult,
        iam: Any,
        user: dict,
        row: ReportRow | None,
        keys: list[ListedKey] | None,
        login_profile: dict | None,
        index: _PolicyIndex,
        virtual_mfa: dict[str, list[dict[str, Any]]],
    ) -> None:
        arn = user["Arn"]
        name = user.get("UserName") or arn.rsplit("/", 1)[-1]
        tags = tags_dict(user.get("Tags"))
        if row is not None:
            password_enabled = row.password_enabled
        elif login_profile is not None:
            password_enabled = bool(login_profile)
        else:
            password_enabled = None
        kind, kind_basis = identity_kind(tags, password_enabled)
        privileged, privileged_basis, policies = index.user_privileges(user)

        devices = list(virtual_mfa.get(arn, []))
        mfa_active = row.mfa_active if row is not None else (True if devices else None)
        if mfa_active and not devices:
            # Active MFA that is not a virtual device: a hardware TOTP token or a FIDO key.
            devices.append({"serial": None, "type": "hardware", "enabled_at": None})

        result.identities.append(
            IdentityRecord(
                external_id=arn,
                name=name,
                kind=kind,
                created_at=as_utc(user.get("CreateDate")) or (row.created_at if row else None),
                tags=tags,
                privileged=privileged,
                mfa_active=mfa_active,
                mfa_devices=devices,
                groups=list(user.get("GroupList") or []),
                policies=policies,
                attributes={
                    "user_id": user.get("UserId"),
                    "path": user.get("Path"),
                    "kind_basis": kind_basis,
                    "privileged_basis": privileged_basis,
                    "password_enabled": password_enabled,
                    "in_credential_report": row is not None,
                    "permissions_boundary": (user.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn"),
                },
            )
        )

        if password_enabled:
            self._emit_password(result, arn, name, row, login_profile, mfa_active)

        if keys is None:
            return  # listing failed; the error is already recorded
        for key, slot, basis in match_keys(keys, row.keys if row else []):
            last_used, service, region = (slot.last_used, slot.last_used_service, slot.last_used_region) if slot else (None, None, None)
            if slot is None:
                last_used, service, region = self._key_last_used(iam, key.access_key_id, result)
            result.credentials.append(
                CredentialRecord(
                    external_id=key.access_key_id,
                    credential_type=CredentialKind.ACCESS_KEY.value,
                    name=f"{name} access key {slot.slot if slot else '?'}",
                    identity_external_id=arn,
                    enabled=key.status == "Active",
                    created_at=key.created_at,
                    # AWS calls key creation "last rotated": keys rotate by replacement.
                    last_rotated_at=key.created_at,
                    last_used_at=last_used,
                    tags={},
                    attributes={
                        "user_name": name,
                        "status": key.status,
                        "slot": slot.slot if slot else None,
                        "slot_match": basis,
                        "last_used_service": service,
                        "last_used_region": region,
                        "last_used_status": "used" if last_used else "none_recorded",
                    },
                )
            )

    @staticmethod
    def _emit_password(
        result: CollectionResult,
        arn: str,
        name: str,
        row: ReportRow | None,
        login_profile: dict | None,
        mfa_active: bool | None,
    ) -> None:
        profile_created = as_utc((login_profile or {}).get("CreateDate"))
        changed = row.password_last_changed if row else None
        next_rotation = row.password_next_rotation if row else None
        last_used = row.password_last_used if row else None
        result.credentials.append(
            CredentialRecord(
                external_id=f"{arn}#console-password",
                credential_type=CredentialKind.CONSOLE_PASSWORD.value,
                name=f"{name} console password",
                identity_external_id=arn,
                enabled=True,
                # No account-wide call returns the login profile's creation date.
                created_at=profile_created or changed,
                last_rotated_at=changed,
                last_used_at=last_used,
                attributes={
                    "created_at_basis": "login_profile" if profile_created else "password_last_changed",
                    "password_next_rotation": next_rotation.isoformat() if next_rotation else None,
                    "password_reset_required": (login_profile or {}).get("PasswordResetRequired"),
                    "mfa_active": mfa_active,
                    "last_used_status": "used" if last_used else "none_recorded",
                },
            )
        )

    @staticmethod
    def _key_last_used(iam: Any, key_id: str, result: CollectionResult) -> tuple[datetime | None, str | None, str | None]:
        """Last use of a key the report does not know yet (created after the report)."""
        try:
            info = iam.get_access_key_last_used(AccessKeyId=key_id).get("AccessKeyLastUsed") or {}
        except Exception as exc:  # noqa: BLE001
            error = translate_error(exc, context=key_id)
            if error.retryable:
                raise error from exc
            result.add_error(error.code, str(error), key_id)
            return None, None, None
        service = info.get("ServiceName")
        region = info.get("Region")
        return (
            as_utc(info.get("LastUsedDate")),
            None if _report_text(service) is None else service,
            None if _report_text(region) is None else region,
        )

    @staticmethod
    def _emit_root(
        result: CollectionResult,
        account_id: str,
        partition: str,
        row: ReportRow | None,
        summary: dict | None,
        virtual_mfa: dict[str, list[dict[str, Any]]],
    ) -> dict[str, Any]:
        root_arn = f"arn:{partition}:iam::{account_id}:root"
        if row is not None:
            mfa_active, mfa_basis = row.mfa_active, "credential_report"
            keys_present: bool | None = bool(row.keys)
        elif summary is not None:
            mfa_active, mfa_basis = bool(summary.get("AccountMFAEnabled")), "account_summary"
            keys_present = bool(summary.get("AccountAccessKeysPresent"))
        else:
            mfa_active, mfa_basis, keys_present = None, "unknown", None

        devices = list(virtual_mfa.get(root_arn, []))
        if mfa_active and not devices:
            devices.append({"serial": None, "type": "hardware", "enabled_at": None})
        result.identities.append(
            IdentityRecord(
                external_id=root_arn,
                name="root",
                kind=IdentityKind.ROOT.value,
                created_at=row.created_at if row else None,
                privileged=True,
                mfa_active=mfa_active,
                mfa_devices=devices,
                attributes={
                    "mfa_basis": mfa_basis,
                    "password_last_used": (
                        row.password_last_used.isoformat() if row and row.password_last_used else None
                    ),
                },
            )
        )

        if row is not None:
            for slot in row.keys:
                result.credentials.append(
                    CredentialRecord(
                        external_id=f"{account_id}#root-key-{slot.slot}",
                        credential_type=CredentialKind.ROOT_ACCESS_KEY.value,
                        name=f"root access key {slot.slot}",
                        identity_external_id=root_arn,
                        enabled=slot.active,
                        created_at=slot.last_rotated,
                        last_rotated_at=slot.last_rotated,
                        last_used_at=slot.last_used,
                        attributes={
                            "slot": slot.slot,
                            "basis": "credential_report",
                            "last_used_service": slot.last_used_service,
                            "last_used_region": slot.last_used_region,
                            "last_used_status": "used" if slot.last_used else "none_recorded",
                        },
                    )
                )
        elif keys_present:
            # The summary says "root has keys" without how many or their dates.
            result.credentials.append(
                CredentialRecord(
                    external_id=f"{account_id}#root-key-1",
                    credential_type=CredentialKind.ROOT_ACCESS_KEY.value,
                    name="root access key (details unknown)",
                    identity_external_id=root_arn,
                    enabled=None,
                    attributes={"slot": None, "basis": "account_summary"},
                )
            )
        return {"mfa_active": mfa_active, "access_keys_present": keys_present}
