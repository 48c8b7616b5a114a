"""Account facts for the identity-control rules (9.2.4.04, 9.2.4.14, 9.2.4.16, 9.3.1.07).

Read by the IAM connector after its users, metadata only:

* :func:`password_login_profiles`: ``GetLoginProfile`` for users whose report row shows a
  console password, for the profile's creation date and ``PasswordResetRequired`` (the
  credential report has neither). Reused from ``state`` while the report's
  ``password_last_changed`` for the user is the same, so a repeat collection asks only for
  passwords set since.
* :func:`identity_center`: ``sso-admin ListInstances`` in the regions of the setting
  ``AWS_IDENTITY_CENTER_REGIONS`` (default: the session's region). In use when an instance
  is listed; a refused or failed call leaves the state ``unknown`` with the error, never
  "not in use".
* :func:`external_trust_roles`: from the roles of ``GetAccountAuthorizationDetails``
  (filter ``Role``, the call the connector already makes): roles whose trust policy lets
  principals of another account (or ``*``) assume them, and whether an ``sts:ExternalId``
  condition is required.
* :func:`console_access`: how many human users have a console password.
"""

from __future__ import annotations

import re
from typing import Any

from apps.connectors.aws.client import as_utc, error_code
from apps.connectors.aws.iam import reads
from apps.connectors.aws.iam.policies import policy_document
from apps.connectors.aws.iam.report import ReportRow, parse_report_datetime
from apps.connectors.base import CollectionResult, ConnectorError, IdentityRecord
from apps.connectors.kinds import IdentityKind

IN_USE, NOT_IN_USE, UNKNOWN = "in_use", "not_in_use", "unknown"
MAX_PRINCIPALS = 20  # external principals kept per role (the count is kept whole)
MAX_TEXT = 256  # a principal or name longer than this is cut
_ACCOUNT_ARN = re.compile(r"^arn:aws[a-z-]*:(?:iam|sts)::(\d{12}):")
_ACCOUNT_ID = re.compile(r"^\d{12}$")


def _iso(value: Any) -> str | None:
    return value.isoformat() if hasattr(value, "isoformat") else None


def _from_state(kept: dict) -> dict:
    reset = kept.get("PasswordResetRequired")
    created = parse_report_datetime(kept.get("CreateDate")) if kept.get("CreateDate") is not None else None
    if kept and not isinstance(reset, (bool, type(None))):
        raise ValueError("PasswordResetRequired is not a boolean")
    return {"CreateDate": created, "PasswordResetRequired": reset} if kept else {}


def password_login_profiles(
    iam: Any,
    users: list[dict],
    rows_by_arn: dict[str, ReportRow],
    result: CollectionResult,
    previous: Any,
) -> tuple[dict[str, dict], dict[str, Any]]:
    """Login profiles (``CreateDate`` as ISO text, ``PasswordResetRequired``) of users whose
    report row shows a console password, by ARN; and the state to keep for next time.

    A user whose ``GetLoginProfile`` is refused or fails is left out and recorded as an
    error for that user: its password's reset flag and creation stay unknown.
    """
    previous = previous if isinstance(previous, dict) else {}
    profiles: dict[str, dict] = {}
    state: dict[str, Any] = {}
    jobs: list[tuple[str, str]] = []
    changed_by_arn: dict[str, str | None] = {}
    for user in users:
        arn = user.get("Arn", "")
        row = rows_by_arn.get(arn)
        if row is None or not row.password_enabled:
            continue
        changed = _iso(row.password_last_changed)
        changed_by_arn[arn] = changed
        kept = previous.get(arn)
        if isinstance(kept, dict) and kept.get("changed") == changed and isinstance(kept.get("profile"), dict):
            try:
                profiles[arn] = _from_state(kept["profile"])
            except (TypeError, ValueError):
                pass  # unreadable state for this user: ask AWS
            else:
                state[arn] = kept
                continue
        jobs.append((arn, user.get("UserName", "")))

    def call(user_name: str) -> dict:
        try:
            profile = iam.get_login_profile(UserName=user_name)["LoginProfile"]
        except Exception as exc:
            if error_code(exc) == "NoSuchEntity":
                return {}  # removed since the report: no console password now
            raise
        reset = profile.get("PasswordResetRequired")
        return {"CreateDate": as_utc(profile.get("CreateDate")), "PasswordResetRequired": reset if isinstance(reset, bool) else None}

    answers = reads.per_user(jobs, call, result, frozenset({"AccessDenied", "AccessDeniedException"}), context="GetLoginProfile")
    for arn, profile in answers.items():
        profiles[arn] = profile
        state[arn] = {"changed": changed_by_arn.get(arn), "profile": {**profile, "CreateDate": _iso(profile.get("CreateDate"))}}
    listing = result.facts.setdefault("login_profile_listing", {})  # summed over the pages of users
    listing["listed_for"] = listing.get("listed_for", 0) + len(jobs)
    return profiles, state


def identity_center(aws: Any, result: CollectionResult) -> dict[str, Any]:
    """``{"status": in_use|not_in_use|unknown, "regions", "instances", "error"}``."""
    regions = [r for r in (reads.setting("AWS_IDENTITY_CENTER_REGIONS", ()) or ()) if r] or [aws.region]
    instances: list[dict[str, Any]] = []
    errors: list[str] = []
    for region in regions:

        def read(region: str = region) -> list[dict[str, Any]]:
            client = aws.client("sso-admin", region=region)
            found = []
            for page in client.get_paginator("list_instances").paginate():
                # botocore turns a body it cannot parse into {"message": ...}: AWS always sends Instances.
                if not isinstance(page.get("Instances"), list):
                    raise ConnectorError(
                        f"ListInstances answered without Instances: {str(page.get('message', ''))[:200]!r}", code="malformed_response"
                    )
                for item in page["Instances"]:
                    if isinstance(item, dict):
                        found.append(
                            {
                                "arn": str(item.get("InstanceArn") or "")[:MAX_TEXT],
                                "owner_account_id": str(item.get("OwnerAccountId") or "")[:MAX_TEXT],
                                "status": str(item.get("Status") or "")[:40],
                                "region": region,
                            }
                        )
            return found

        before = len(result.errors)
        answer = reads.optional(result, f"identity_center:{region}", read)
        if answer is None:
            errors += [str(e.get("message", "")) for e in result.errors[before:]] or [f"ListInstances in {region} failed"]
            continue
        instances += answer
    active = [i for i in instances if i["status"] in ("ACTIVE", "")]
    if active:
        status = IN_USE
    elif errors:
        status = UNKNOWN  # an instance may be where the call failed: never "not in use"
    else:
        status = NOT_IN_USE
    return {"status": status, "regions": regions, "instances": instances[:10], "error": "; ".join(errors)[:500]}


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _external(principal: str, account_id: str) -> bool:
    if principal == "*":
        return True
    match = _ACCOUNT_ARN.match(principal)
    if match:
        return match.group(1) != account_id
    if _ACCOUNT_ID.match(principal):
        return principal != account_id
    return False


def _requires_external_id(condition: Any) -> bool:
    if not isinstance(condition, dict):
        return False
    for operator, clauses in condition.items():
        if not isinstance(clauses, dict) or "ifexists" in str(operator).lower() or str(operator).lower().startswith("null"):
            continue
        if any(str(key).lower() == "sts:externalid" for key in clauses):
            return True
    return False


def external_trust_roles(roles: list[dict], account_id: str, result: CollectionResult) -> dict[str, Any]:
    """``{"roles_checked", "roles": [...], "unreadable": [...]}``: the roles another account may assume.

    Each role: ``name``, ``arn``, ``external_principals`` (at most :data:`MAX_PRINCIPALS`),
    ``external_principal_count`` and ``external_id_required`` (every statement that admits an
    external principal has an ``sts:ExternalId`` condition). A role whose trust policy cannot
    be read is listed in ``unreadable`` and recorded as an error.
    """
    found: list[dict[str, Any]] = []
    unreadable: list[str] = []
    for role in roles:
        if not isinstance(role, dict):
            continue
        arn = str(role.get("Arn") or "")[:MAX_TEXT]
        document = policy_document(role.get("AssumeRolePolicyDocument"))
        if document is None:
            unreadable.append(arn)
            result.add_error("malformed_value", "unreadable trust policy (AssumeRolePolicyDocument)", arn)
            continue
        principals: list[str] = []
        guarded = True
        for statement in _as_list(document.get("Statement")):
            if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
                continue
            principal = statement.get("Principal")
            values = [principal] if principal == "*" else _as_list(principal.get("AWS")) if isinstance(principal, dict) else []
            external = [str(v) for v in values if isinstance(v, str) and _external(v, account_id)]
            if not external:
                continue
            principals += external
            if not _requires_external_id(statement.get("Condition")):
                guarded = False
        if principals:
            found.append(
                {
                    "name": str(role.get("RoleName") or arn)[:MAX_TEXT],
                    "arn": arn,
                    "external_principals": [p[:MAX_TEXT] for p in principals[:MAX_PRINCIPALS]],
                    "external_principal_count": len(principals),
                    "external_id_required": guarded,
                }
            )
    return {"roles_checked": len(roles), "roles": found, "unreadable": unreadable[:100], "unreadable_count": len(unreadable)}


def console_access(identities: list[IdentityRecord]) -> dict[str, int]:
    """Human IAM users, those with a console password, and those whose password state is unknown."""
    humans = [i for i in identities if i.kind == IdentityKind.HUMAN.value]
    with_password = sum(1 for i in humans if i.attributes.get("password_enabled") is True)
    unknown = sum(1 for i in humans if i.attributes.get("password_enabled") is None)
    return {"human_users": len(humans), "with_console_password": with_password, "password_state_unknown": unknown}
