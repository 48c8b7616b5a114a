"""The records one IAM collection yields: a user with its console password and access
keys, and the root identity with its keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from apps.connectors.aws.client import as_utc, tags_dict
from apps.connectors.aws.iam.policies import PolicyIndex
from apps.connectors.aws.iam.reads import key_last_used
from apps.connectors.aws.iam.report import ReportRow
from apps.connectors.aws.iam.users import ListedKey, identity_kind, match_keys
from apps.connectors.base import CollectionResult, CredentialRecord, IdentityRecord
from apps.connectors.kinds import CredentialKind, IdentityKind


def emit_user(
    result: CollectionResult,
    iam: Any,
    user: dict,
    row: ReportRow | None,
    keys: list[ListedKey] | None,
    login_profile: dict | None,
    index: PolicyIndex,
    virtual_mfa: dict[str, list[dict[str, Any]]],
    report_generated_at: datetime | None = None,
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
                # False when ListAccessKeys failed for the user: "no key" would then be unproven.
                "access_keys_listed": keys is not None,
            },
        )
    )

    as_of = report_generated_at.isoformat() if report_generated_at else None
    if password_enabled:
        emit_password(result, arn, name, row, login_profile, mfa_active, as_of)

    if keys is None:
        return  # listing failed; the error is already recorded
    for key, slot, basis in match_keys(keys, row.keys if row else []):
        if slot is not None:
            last_used, service, region = slot.last_used, slot.last_used_service, slot.last_used_region
            source, status = "credential_report", ("used" if slot.last_used else "none_recorded")
        else:
            # No slot describes this key (created after the report): ask AWS for this key only.
            answer = key_last_used(iam, key.access_key_id, result)
            last_used, service, region = answer or (None, None, None)
            source = "GetAccessKeyLastUsed"
            status = "unknown" if answer is None else ("used" if last_used else "none_recorded")
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
                    "last_used_status": status,
                    "last_used_source": source,
                    # As of when the report-derived facts stood (GetAccessKeyLastUsed answers now).
                    "report_generated_at": as_of,
                },
            )
        )


def emit_password(
    result: CollectionResult,
    arn: str,
    name: str,
    row: ReportRow | None,
    login_profile: dict | None,
    mfa_active: bool | None,
    report_generated_at: str | None = None,
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
                "last_used_source": "credential_report" if row else None,
                "report_generated_at": report_generated_at if row else None,
            },
        )
    )


def emit_root(
    result: CollectionResult,
    account_id: str,
    partition: str,
    row: ReportRow | None,
    summary: dict | None,
    virtual_mfa: dict[str, list[dict[str, Any]]],
    report_generated_at: datetime | None = None,
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
                "password_last_used": (row.password_last_used.isoformat() if row and row.password_last_used else None),
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
                        "last_used_source": "credential_report",
                        "report_generated_at": report_generated_at.isoformat() if report_generated_at else None,
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
