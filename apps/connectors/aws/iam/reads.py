"""The IAM calls of one collection: account-wide reads first, per-user reads only where
nothing account-wide answers (keys ids, users newer than the credential report)."""

from __future__ import annotations

import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from django.conf import settings

from apps.connectors.aws.allowlist import OPERATION_REFUSED
from apps.connectors.aws.client import as_utc, error_code, translate_error
from apps.connectors.aws.iam.report import (
    ReportRow,
    parse_credential_report,
    report_text,
)
from apps.connectors.aws.iam.users import ListedKey
from apps.connectors.base import CollectionResult, ConnectorError

PAGE_SIZE = 1000  # IAM's maximum MaxItems: fewer round trips on large accounts


def setting(name: str, default: Any) -> Any:
    """A Django setting, read when a collection runs (never at import)."""
    return getattr(settings, name, default)


# --- account-wide reads -------------------------------------------------------------


def credential_report(iam: Any) -> tuple[list[ReportRow], datetime | None]:
    """Generate (or reuse AWS's < 4 h old) report, wait for it boundedly, parse it."""
    max_wait = float(setting("AWS_CREDENTIAL_REPORT_MAX_WAIT", 120.0))
    poll = float(setting("AWS_CREDENTIAL_REPORT_POLL_INTERVAL", 2.0))
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


# What the collection reads of a user's authorization details (records, privileged rule,
# secret readers, login profiles); the rest of the entry is not kept.
USER_FIELDS = (
    "Arn",
    "UserName",
    "UserId",
    "Path",
    "CreateDate",
    "Tags",
    "GroupList",
    "AttachedManagedPolicies",
    "UserPolicyList",
    "PermissionsBoundary",
)
_TAGS = USER_FIELDS.index("Tags")
_CREATED = USER_FIELDS.index("CreateDate")
_SHARED = frozenset(USER_FIELDS.index(f) for f in ("Path", "GroupList", "AttachedManagedPolicies", "PermissionsBoundary"))
_ABSENT = object()


class UserDetails:
    """The users of ``GetAccountAuthorizationDetails``, held compactly until the stream takes
    them: one tuple per user of the fields in :data:`USER_FIELDS`, tags as (key, value) pairs,
    and the values thousands of users repeat (path, groups, attached policies, boundary) held
    once. :meth:`take` hands them back as the entries AWS sent (those fields) and releases them.
    A user's entry cannot be judged as it arrives: AWS may send the groups and policies its
    privileges depend on on later pages."""

    def __init__(self) -> None:
        self._users: deque[tuple] = deque()
        self._shared: dict[str, Any] = {}

    def __len__(self) -> int:
        return len(self._users)

    def add(self, user: dict) -> None:
        values = []
        for position, field in enumerate(USER_FIELDS):
            value = user.get(field, _ABSENT)
            if position == _TAGS and isinstance(value, list) and all(isinstance(t, dict) and set(t) <= {"Key", "Value"} for t in value):
                value = tuple((t.get("Key", _ABSENT), t.get("Value", _ABSENT)) for t in value)
            elif position == _CREATED and isinstance(value, datetime):
                value = as_utc(value)  # the same instant without botocore's per-value tzinfo object
            elif position in _SHARED and value is not _ABSENT:
                value = self._shared.setdefault(repr(value), value)
            values.append(value)
        self._users.append(tuple(values))

    def take(self, count: int) -> list[dict]:
        """The next ``count`` users (fewer at the end), no longer held here."""
        taken = []
        for _ in range(min(count, len(self._users))):
            values = self._users.popleft()
            user = {}
            for position, field in enumerate(USER_FIELDS):
                value = values[position]
                if value is _ABSENT:
                    continue
                if position == _TAGS and isinstance(value, tuple):
                    value = [{k: v for k, v in (("Key", key), ("Value", text)) if v is not _ABSENT} for key, text in value]
                user[field] = value
            taken.append(user)
        return taken


def authorization_details(iam: Any) -> tuple[UserDetails, list[dict], list[dict], list[dict]]:
    """(users, groups, customer-managed policies, roles): roles for their trust policies.

    Read page by page; the users are kept compactly (:class:`UserDetails`), the rest whole."""
    users = UserDetails()
    groups: list[dict] = []
    policies: list[dict] = []
    roles: list[dict] = []
    # AWS-managed policy documents are left out (about a thousand of them); those
    # that matter for the privileged rule are recognised by name.
    paginator = iam.get_paginator("get_account_authorization_details")
    pages = paginator.paginate(Filter=["User", "Group", "LocalManagedPolicy", "Role"], PaginationConfig={"PageSize": PAGE_SIZE})
    for page in pages:
        for user in page.get("UserDetailList") or []:
            users.add(user)
        groups += page.get("GroupDetailList") or []
        policies += page.get("Policies") or []
        roles += page.get("RoleDetailList") or []
    return users, groups, policies, roles


def virtual_mfa(iam: Any) -> dict[str, list[dict[str, Any]]]:
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


def password_policy(result: CollectionResult, iam: Any) -> tuple[bool, dict | None]:
    """(known, policy): ``(True, None)`` means the account has no password policy."""

    def read() -> dict | None:
        try:
            return dict(iam.get_account_password_policy()["PasswordPolicy"])
        except Exception as exc:
            if error_code(exc) == "NoSuchEntity":
                return None
            raise

    sentinel = object()
    policy = optional(result, "password_policy", read, failed=sentinel)
    if policy is sentinel:
        return False, None
    return True, policy


def account_summary(iam: Any) -> dict[str, Any]:
    return dict(iam.get_account_summary()["SummaryMap"])


def optional(result: CollectionResult, item: str, read: Any, failed: Any = None) -> Any:
    """Run an enrichment read; a non-transient failure is recorded, not raised."""
    try:
        return read()
    except Exception as exc:  # noqa: BLE001
        error = translate_error(exc, context=item)
        if error.retryable or error.code == OPERATION_REFUSED:
            raise error from exc
        result.add_error(error.code, str(error), item)
        return failed


# --- per-user reads (only where nothing account-wide answers) -------------------------


def per_user(
    jobs: list[tuple[str, str]], call: Any, result: CollectionResult, item_errors: frozenset[str], *, context: str = "per-user IAM calls"
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

    workers = max(1, int(setting("AWS_IAM_PER_USER_CONCURRENCY", 4)))
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
        raise translate_error(fatal, context=context) from fatal
    return answers


def list_keys(iam: Any, jobs: list[tuple[str, str]], result: CollectionResult) -> dict[str, list[ListedKey]]:
    """Access keys of each (arn, name) in ``jobs``, by user ARN."""

    def call(user_name: str) -> list[ListedKey]:
        keys: list[ListedKey] = []
        for page in iam.get_paginator("list_access_keys").paginate(UserName=user_name):
            keys += [ListedKey.from_api(item) for item in page.get("AccessKeyMetadata") or []]
        return keys

    return per_user(jobs, call, result, frozenset({"NoSuchEntity", "AccessDenied"}))


def login_profiles(iam: Any, jobs: list[tuple[str, str]], result: CollectionResult) -> dict[str, dict | None]:
    """Login profiles of users the report does not know yet (created after it)."""

    def call(user_name: str) -> dict | None:
        try:
            return dict(iam.get_login_profile(UserName=user_name)["LoginProfile"])
        except Exception as exc:
            if error_code(exc) == "NoSuchEntity":
                return {}  # no console password
            raise

    return per_user(jobs, call, result, frozenset({"AccessDenied"}))


def key_last_used(iam: Any, key_id: str, result: CollectionResult) -> tuple[datetime | None, str | None, str | None] | None:
    """Last use of a key no report slot describes (created after the report was generated):
    ``(date or None, service, region)``, or ``None`` when AWS could not say (recorded)."""
    try:
        info = iam.get_access_key_last_used(AccessKeyId=key_id).get("AccessKeyLastUsed") or {}
    except Exception as exc:  # noqa: BLE001
        error = translate_error(exc, context=key_id)
        if error.retryable or error.code == OPERATION_REFUSED:
            raise error from exc
        result.add_error(error.code, str(error), key_id)
        return None
    service = info.get("ServiceName")
    region = info.get("Region")
    return (
        as_utc(info.get("LastUsedDate")),
        None if report_text(service) is None else service,
        None if report_text(region) is None else region,
    )
