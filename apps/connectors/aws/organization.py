"""An AWS organisation as a source: its accounts, discovered at each collection.

The source names the role keytrail assumes in the management account (or a delegated
administrator account) to list the accounts, the role name (and external id) to assume in
every member account, the regions (none: every enabled region of each account), and
optional include/exclude lists of account ids or OU ids.

One discovery unit per collection (:class:`OrganizationConnector`):

1. ``DescribeOrganization`` (the organisation's id) and ``ListAccounts``, paged, all pages
   or nothing (a partial list would make the missing accounts look gone); throttling is
   retried by the SDK and, beyond that, by the unit's task.
2. For OU ids in the include/exclude lists: ``ListAccountsForParent`` and
   ``ListOrganizationalUnitsForParent`` down the tree under each.
3. Each account is decided: ``collect`` (ACTIVE and chosen), ``excluded`` / ``not_included``
   (the source's lists), or ``not_assessed`` with the reason (suspended, closing, an id in
   the lists that is not in the organisation). The decisions are the unit's facts, the
   not-assessed ones also its item errors, so pages, the run report, the API and the pack
   name them.
4. The accounts to collect are returned as :class:`MemberSource`\\ s: the inventory registers
   each as an AWS account source under the organisation and collects its units (IAM, its
   regions) in the same run, each a task of its own. Nothing about a member account is
   read here: a member role that cannot be assumed fails that account's own units, by name.

Compared with the previous discovery (``state``), an account is ``appeared`` (new),
``status_changed`` or, in ``left``, gone from the organisation.
"""

from __future__ import annotations

import re
from typing import Any

from botocore.exceptions import ClientError

from apps.connectors.aws.client import aws_errors, error_code, session_for_target
from apps.connectors.aws.source import validate_regions, validate_role
from apps.connectors.base import (
    CollectionResult,
    Connector,
    ConnectorError,
    MemberSource,
    SettingField,
    SourceConfig,
    SourceSpec,
    Target,
)
from apps.connectors.kinds import SourceKind
from apps.core.errors import ValidationFailed

ACCOUNT_ID = re.compile(r"^\d{12}$")
OU_ID = re.compile(r"^(?:ou-[0-9a-z]{4,32}-[0-9a-z]{8,32}|r-[0-9a-z]{4,32})$")
ROLE_NAME = re.compile(r"^(?:/[\w+=,.@-]+)*/?[\w+=,.@-]{1,64}$")
PAGE_SIZE = 20  # ListAccounts' maximum
NOT_FOUND_CODES = frozenset({"ParentNotFoundException", "ChildNotFoundException", "TargetNotFoundException"})

COLLECT = "collect"
EXCLUDED = "excluded"
NOT_INCLUDED = "not_included"
NOT_ASSESSED = "not_assessed"

_STATUS_REASONS = {
    "SUSPENDED": "the account is suspended (closed): its roles cannot be used, nothing in it can be read",
    "PENDING_CLOSURE": "the account is being closed: nothing in it can be read",
}


def _ids(label: str, values: tuple[str, ...]) -> tuple[str, ...]:
    ids: list[str] = []
    for value in values:
        value = value.strip()
        if not value:
            continue
        if not (ACCOUNT_ID.match(value) or OU_ID.match(value)):
            raise ValidationFailed(f"{label}: {value[:40]!r} is neither an account id (12 digits) nor an OU or root id (ou-…, r-…).")
        if value not in ids:
            ids.append(value)
    return tuple(ids)


class AwsOrganization(SourceSpec):
    kind = SourceKind.AWS_ORGANIZATION
    key_label = "AWS organisation managed from account"
    key_setting = "role_arn"
    fields = (
        SettingField("aws_account_id", "Management account", derived=True),
        SettingField(
            "role_arn",
            "Role ARN",
            max_length=2048,
            help_text=(
                "The role keytrail assumes in the management account (or a delegated administrator account) to list "
                "the accounts: arn:aws:iam::<12-digit account>:role/<name>."
            ),
        ),
        SettingField(
            "member_role_name",
            "Member role",
            max_length=512,
            help_text="The name of the read-only role keytrail assumes in every member account (e.g. keytrail-reader).",
        ),
        SettingField(
            "external_id",
            "External id",
            required=False,
            max_length=1224,
            help_text="Optional; passed when assuming the roles, if their trust policies require one.",
        ),
        SettingField(
            "regions",
            "Regions",
            required=False,
            max_length=2000,
            many=True,
            help_text="Secrets Manager regions for every account. Empty: every region enabled in each account.",
            empty="every enabled region",
        ),
        SettingField(
            "include_ids",
            "Include",
            required=False,
            max_length=4000,
            many=True,
            help_text="Only these account ids or OU ids (ou-…, or the root r-…). Empty: every account.",
            empty="every account",
        ),
        SettingField(
            "exclude_ids",
            "Exclude",
            required=False,
            max_length=4000,
            many=True,
            help_text="Account ids or OU ids never collected.",
            empty="none",
        ),
    )

    @classmethod
    def validate(cls, config: SourceConfig) -> SourceConfig:
        role_arn, account_id, external_id = validate_role(config)
        member_role = (config.member_role_name or "").strip()
        if not ROLE_NAME.match(member_role):
            raise ValidationFailed("Member role: give the role's name (up to 64 of letters, digits and +=,.@_-), e.g. keytrail-reader.")
        include = _ids("Include", config.include_ids)
        exclude = _ids("Exclude", config.exclude_ids)
        both = [value for value in include if value in exclude]
        if both:
            raise ValidationFailed(f"Exclude: {', '.join(both[:5])} is also in Include; keep each id in one list.")
        return SourceConfig(
            kind=cls.kind.value,
            role_arn=role_arn,
            member_role_name=member_role,
            external_id=external_id,
            regions=validate_regions(config.regions),
            include_ids=include,
            exclude_ids=exclude,
            aws_account_id=account_id,
        )

    @classmethod
    def source_key(cls, config: SourceConfig) -> str:
        return config.aws_account_id

    @classmethod
    def location(cls, config: SourceConfig) -> str:
        return config.role_arn


def _iso(value: Any) -> str | None:
    return value.isoformat() if hasattr(value, "isoformat") else None


def _accounts_under(client: Any, parent: str) -> set[str]:
    """Account ids anywhere under ``parent`` (an OU or the root), walking the OU tree."""
    found: set[str] = set()
    pending = [parent]
    while pending:
        current = pending.pop()
        for page in client.get_paginator("list_accounts_for_parent").paginate(ParentId=current):
            found.update(str(a["Id"]) for a in page.get("Accounts", []))
        for page in client.get_paginator("list_organizational_units_for_parent").paginate(ParentId=current):
            pending.extend(str(ou["Id"]) for ou in page.get("OrganizationalUnits", []))
    return found


class OrganizationConnector(Connector):
    """Discovers an organisation's accounts and returns the ones to collect as member sources."""

    kind = "aws_organization"
    source = AwsOrganization
    discovers = True
    provides_source_facts = True  # the account list is what rules read of an organisation

    @classmethod
    def targets(cls, config: SourceConfig) -> list[Target]:
        return [
            Target(
                kind=cls.kind,
                source_key=config.aws_account_id,
                role_arn=config.role_arn,
                external_id=config.external_id,
                member_role_name=config.member_role_name,
                include_ids=config.include_ids,
                exclude_ids=config.exclude_ids,
                regions=config.regions,
            )
        ]

    def collect(self, target: Target, *, previous_state: dict | None = None) -> CollectionResult:
        result = CollectionResult(target=target)
        aws = session_for_target(target, api_calls=result.api_calls)
        client = aws.client("organizations")
        accounts: list[dict[str, Any]] = []
        with aws_errors(f"{target.unit} {aws.account_id}"):
            organization = client.describe_organization().get("Organization") or {}
            for page in client.get_paginator("list_accounts").paginate(PaginationConfig={"PageSize": PAGE_SIZE}):
                if not isinstance(page.get("Accounts"), list):
                    raise ConnectorError("ListAccounts answered without an account list", code="malformed_response")
                accounts += page["Accounts"]
            under = self._resolve_ous(client, target, result)

        listed: dict[str, dict[str, Any]] = {}
        for account in accounts:
            account_id = str(account.get("Id") or "") if isinstance(account, dict) else ""
            if not ACCOUNT_ID.match(account_id):
                result.add_error("malformed_response", "a ListAccounts entry has no usable account id", repr(account)[:200])
                continue
            listed[account_id] = account

        entries = [self._decide(account_id, account, target, under) for account_id, account in listed.items()]
        for label, ids in (("Include", target.include_ids), ("Exclude", target.exclude_ids)):
            for value in ids:
                if ACCOUNT_ID.match(value) and value not in listed:
                    reason = f"listed in {label} but not in the organisation: check the id for a typo"
                    if label == "Include":
                        entries.append(self._entry(value, "", "NOT_FOUND", None, NOT_ASSESSED, reason))
                    result.add_error("unknown_account", f"account {value} is {reason}", value)

        previous = (previous_state or {}).get("accounts") or {}
        for entry in entries:
            before = previous.get(entry["id"])
            if entry["status"] == "NOT_FOUND":
                continue
            if before is None:
                entry["event"] = "appeared"
            elif before.get("status") != entry["status"]:
                entry["event"] = "status_changed"
                entry["previous_status"] = before.get("status")
        left = [
            {"id": account_id, "name": str(before.get("name") or "")} for account_id, before in previous.items() if account_id not in listed
        ]

        entries.sort(key=lambda e: (e["name"].casefold(), e["id"]))
        not_assessed = [e for e in entries if e["decision"] == NOT_ASSESSED]
        for entry in not_assessed:
            if entry["status"] != "NOT_FOUND":  # an unknown id is already an error above
                result.add_error("account_not_assessed", f"account {entry['name']} ({entry['id']}): {entry['reason']}", entry["id"])
        result.members = [
            MemberSource(
                source_key=e["id"],
                name=e["name"],
                config=SourceConfig(
                    kind=SourceKind.AWS_ACCOUNT.value,
                    role_arn=f"arn:{aws.partition}:iam::{e['id']}:role/{target.member_role_name.strip('/')}",
                    external_id=target.external_id,
                    regions=target.regions,
                    aws_account_id=e["id"],
                ),
            )
            for e in entries
            if e["decision"] == COLLECT
        ]
        result.facts = {
            "organization_id": str(organization.get("Id") or ""),
            "management_account_id": str(organization.get("MasterAccountId") or ""),
            "listed_from_account": aws.account_id,
            "accounts": entries,
            "left": left,
            "not_assessed": [{"id": e["id"], "name": e["name"], "reason": e["reason"]} for e in not_assessed],
            "counts": {
                "listed": len(listed),
                "collect": len(result.members),
                "not_assessed": len(not_assessed),
                "excluded": sum(e["decision"] in (EXCLUDED, NOT_INCLUDED) for e in entries),
            },
        }
        result.state = {"accounts": {e["id"]: {"name": e["name"], "status": e["status"]} for e in entries if e["status"] != "NOT_FOUND"}}
        return result

    @staticmethod
    def _resolve_ous(client: Any, target: Target, result: CollectionResult) -> dict[str, set[str] | None]:
        """The accounts under each OU id of the include/exclude lists (``None``: no such OU)."""
        under: dict[str, set[str] | None] = {}
        for value in (*target.include_ids, *target.exclude_ids):
            if not OU_ID.match(value) or value in under:
                continue
            try:
                under[value] = _accounts_under(client, value)
            except ClientError as exc:
                if error_code(exc) not in NOT_FOUND_CODES:
                    raise
                under[value] = None
                result.add_error("unknown_ou", f"{value} is not an OU or root of the organisation: check the id for a typo", value)
        return under

    @staticmethod
    def _entry(account_id: str, name: str, status: str, joined: Any, decision: str, reason: str) -> dict[str, Any]:
        return {
            "id": account_id,
            "name": name,
            "status": status,
            "joined_at": _iso(joined),
            "decision": decision,
            "reason": reason,
            "event": "",
        }

    def _decide(self, account_id: str, account: dict[str, Any], target: Target, under: dict[str, set[str] | None]) -> dict[str, Any]:
        def chosen_by(ids: tuple[str, ...]) -> bool:
            return any(value == account_id or account_id in (under.get(value) or ()) for value in ids)

        name = str(account.get("Name") or "")
        status = str(account.get("Status") or "UNKNOWN")
        joined = account.get("JoinedTimestamp")
        if chosen_by(target.exclude_ids):
            return self._entry(account_id, name, status, joined, EXCLUDED, "excluded by the source's Exclude list")
        if target.include_ids and not chosen_by(target.include_ids):
            return self._entry(account_id, name, status, joined, NOT_INCLUDED, "not in the source's Include list")
        if status != "ACTIVE":
            reason = _STATUS_REASONS.get(status, f"the account's status is {status[:40]}, not ACTIVE")
            return self._entry(account_id, name, status, joined, NOT_ASSESSED, reason)
        return self._entry(account_id, name, status, joined, COLLECT, "")
