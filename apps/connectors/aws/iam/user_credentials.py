"""The IAM credentials besides passwords and access keys: SSH public keys, service-specific
credentials, signing certificates (per user) and server certificates (account-wide).

No account-wide call lists a user's SSH keys or service-specific credentials (without
``UserName`` each call answers for the caller only) and nothing says a user's have changed,
so each is one call per user, run on the same few threads as the other per-user reads
(:func:`apps.connectors.aws.iam.reads.per_user`); a repeat collection reuses a user's listing
younger than ``AWS_IAM_USER_CREDENTIALS_REFRESH_HOURS`` (24) from ``state``, and every record
says when its listing was made (``attributes.listed_at``, an as-of attribute). Signing certificates are listed only for
users whose credential-report row shows one (``cert_N_active`` / ``cert_N_last_rotated``) or
who are not in the report yet. Server certificates are one paged
account-wide call. None of these answers carries a secret: SSH keys and signing certificates
are public halves (keytrail keeps only ids, status and dates, never the bodies), a
service-specific credential's password is shown by AWS only when it is created, and server
certificates are listed without their bodies or private keys.

AWS records no last use for any of them; expiry exists only for certificates. A signing
certificate's expiry is in its body, which keytrail does not keep: when the body parses,
its ``notAfter`` is recorded, nothing else of it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from apps.connectors.aws.client import as_utc
from apps.connectors.aws.iam.reads import PAGE_SIZE, per_user, setting
from apps.connectors.base import CollectionResult, CredentialRecord
from apps.connectors.kinds import CredentialKind

# Failures that concern one user only (deleted since the authorisation details were read, a
# permission boundary on the reader): recorded for that user, the account goes on.
_ITEM_ERRORS = frozenset({"NoSuchEntity", "AccessDenied"})

SSH_KEYS = "ssh_public_keys"
SERVICE_CREDENTIALS = "service_specific_credentials"
SIGNING_CERTIFICATES = "signing_certificates"


def _paged(iam: Any, operation: str, key: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in iam.get_paginator(operation).paginate(**params):
        items += page.get(key) or []
    return items


def list_user_credentials(
    iam: Any,
    jobs: list[tuple[str, str]],
    result: CollectionResult,
    *,
    certificate_jobs: list[tuple[str, str]],
    previous: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> tuple[dict[str, dict[str, list[dict]]], dict[str, Any]]:
    """(``{kind: {user arn: [items]}}``, state to keep) for SSH keys and service-specific
    credentials of each (arn, name) in ``jobs`` and signing certificates of each in
    ``certificate_jobs`` (the users the credential report does not rule out).

    SSH keys and service-specific credentials of a user listed by a previous collection less
    than ``AWS_IAM_USER_CREDENTIALS_REFRESH_HOURS`` ago are taken from ``previous`` (the
    ``state`` kept then) instead of asking AWS again; every item says when it was listed
    (``_listed_at``). A user missing from a kind's answer could not be listed for it (the
    error is recorded) and is asked again next time."""
    now = now or datetime.now(UTC)
    refresh = timedelta(hours=float(setting("AWS_IAM_USER_CREDENTIALS_REFRESH_HOURS", 24.0)))
    kept = _reusable(previous, now, refresh, [arn for arn, _ in jobs])
    to_list = [(arn, name) for arn, name in jobs if arn not in kept]

    def ssh(name: str) -> list[dict]:
        return _paged(iam, "list_ssh_public_keys", "SSHPublicKeys", UserName=name, PaginationConfig={"PageSize": PAGE_SIZE})

    def service(name: str) -> list[dict]:
        # Not paged by AWS: one answer holds every service-specific credential of the user.
        return list(iam.list_service_specific_credentials(UserName=name).get("ServiceSpecificCredentials") or [])

    def signing(name: str) -> list[dict]:
        return _paged(iam, "list_signing_certificates", "Certificates", UserName=name, PaginationConfig={"PageSize": PAGE_SIZE})

    listed_ssh = per_user(to_list, ssh, result, _ITEM_ERRORS)
    listed_service = per_user(to_list, service, result, _ITEM_ERRORS)
    stamp = now.isoformat()
    out: dict[str, dict[str, list[dict]]] = {SSH_KEYS: {}, SERVICE_CREDENTIALS: {}}
    state_users: dict[str, Any] = {}
    for arn, _ in jobs:
        if arn in kept:
            entry = kept[arn]
        elif arn in listed_ssh and arn in listed_service:
            entry = {"at": stamp, "ssh": [_freeze(i) for i in listed_ssh[arn]], "svc": [_freeze(i) for i in listed_service[arn]]}
        else:
            # Half listed (one kind failed): use what was read now, keep nothing for next time.
            for kind, listed in ((SSH_KEYS, listed_ssh), (SERVICE_CREDENTIALS, listed_service)):
                if arn in listed:
                    out[kind][arn] = [{**_freeze(i), "_listed_at": stamp} for i in listed[arn]]
            continue
        state_users[arn] = entry
        out[SSH_KEYS][arn] = [{**i, "_listed_at": entry["at"]} for i in entry["ssh"]]
        out[SERVICE_CREDENTIALS][arn] = [{**i, "_listed_at": entry["at"]} for i in entry["svc"]]
    out[SIGNING_CERTIFICATES] = {
        arn: [{**_freeze(i), "_listed_at": stamp} for i in items]
        for arn, items in per_user(certificate_jobs, signing, result, _ITEM_ERRORS).items()
    }
    # Summed over the calls of one collection (the connector calls once per page of users).
    listing = result.facts.setdefault("user_credential_listing", {})
    listing.update(
        {
            "listed_for": listing.get("listed_for", 0) + len(to_list),
            "reused_for": listing.get("reused_for", 0) + len(jobs) - len(to_list),
            "refresh_hours": refresh.total_seconds() / 3600,
        }
    )
    return out, {"version": 1, "users": state_users}


def _freeze(item: dict) -> dict:
    """An AWS answer item, JSON-safe (dates as ISO 8601), to keep in ``state``."""
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in item.items() if isinstance(k, str)}


def _reusable(previous: Any, now: datetime, refresh: timedelta, arns: list[str]) -> dict[str, dict]:
    """Per user ARN of ``arns``, the previous listing still young enough to reuse (none when
    refresh is 0)."""
    if refresh <= timedelta(0) or not isinstance(previous, dict) or previous.get("version") != 1:
        return {}
    users = previous.get("users")
    if not isinstance(users, dict):
        return {}
    kept: dict[str, dict] = {}
    for arn in arns:
        if arn not in users:
            continue
        entry = users[arn]
        try:
            at = datetime.fromisoformat(entry["at"])
            if not (isinstance(entry["ssh"], list) and isinstance(entry["svc"], list)) or not (timedelta(0) <= now - at < refresh):
                continue
        except (KeyError, TypeError, ValueError):
            continue  # unreadable: ask AWS
        kept[arn] = entry
    return kept


def _date(value: Any) -> datetime | None:
    if isinstance(value, str):
        try:
            return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return None
    return as_utc(value)


def list_server_certificates(iam: Any) -> list[dict[str, Any]]:
    return _paged(iam, "list_server_certificates", "ServerCertificateMetadataList", PaginationConfig={"PageSize": PAGE_SIZE})


def certificate_expiry(body: Any) -> datetime | None:
    """``notAfter`` of a PEM certificate body, or ``None`` when it does not parse."""
    from cryptography import x509

    if not isinstance(body, str) or not body.strip():
        return None
    try:
        return x509.load_pem_x509_certificate(body.encode()).not_valid_after_utc.astimezone(UTC)
    except (ValueError, TypeError):
        return None


def _status(item: dict) -> tuple[bool | None, str | None]:
    status = item.get("Status")
    return ({"Active": True, "Inactive": False, "Expired": False}.get(status) if isinstance(status, str) else None), status


def emit_user_credentials(result: CollectionResult, arn: str, name: str, listed: dict[str, dict[str, list[dict]]]) -> None:
    """The user's SSH keys, service-specific credentials and signing certificates as records."""
    for item in listed[SSH_KEYS].get(arn, []):
        enabled, status = _status(item)
        uploaded = _date(item.get("UploadDate"))
        result.credentials.append(
            CredentialRecord(
                external_id=str(item["SSHPublicKeyId"]),
                credential_type=CredentialKind.SSH_PUBLIC_KEY.value,
                name=f"{name} SSH public key {item['SSHPublicKeyId']}",
                identity_external_id=arn,
                enabled=enabled,
                created_at=uploaded,
                last_rotated_at=uploaded,  # SSH keys rotate by replacement
                attributes={
                    "user_name": name,
                    "status": status,
                    "last_used_status": "not_recorded_by_aws",
                    "listed_at": item.get("_listed_at"),
                },
            )
        )
    for item in listed[SERVICE_CREDENTIALS].get(arn, []):
        enabled, status = _status(item)
        created = _date(item.get("CreateDate"))
        service = str(item.get("ServiceName") or "")
        result.credentials.append(
            CredentialRecord(
                external_id=str(item["ServiceSpecificCredentialId"]),
                credential_type=CredentialKind.SERVICE_CREDENTIAL.value,
                name=f"{name} {service or 'service'} credential",
                identity_external_id=arn,
                enabled=enabled,
                created_at=created,
                # AWS resets the password in place (ResetServiceSpecificCredential) without
                # reporting when; creation is the only date it gives.
                last_rotated_at=created,
                expires_at=_date(item.get("ExpirationDate")),
                attributes={
                    "user_name": name,
                    "status": status,
                    "service_name": service,
                    "service_user_name": item.get("ServiceUserName"),
                    "last_used_status": "not_recorded_by_aws",
                    "listed_at": item.get("_listed_at"),
                },
            )
        )
    for item in listed[SIGNING_CERTIFICATES].get(arn, []):
        enabled, status = _status(item)
        uploaded = _date(item.get("UploadDate"))
        result.credentials.append(
            CredentialRecord(
                external_id=str(item["CertificateId"]),
                credential_type=CredentialKind.SIGNING_CERTIFICATE.value,
                name=f"{name} signing certificate {str(item['CertificateId'])[:12]}",
                identity_external_id=arn,
                enabled=enabled,
                created_at=uploaded,
                last_rotated_at=uploaded,
                expires_at=certificate_expiry(item.get("CertificateBody")),
                attributes={
                    "user_name": name,
                    "status": status,
                    "last_used_status": "not_recorded_by_aws",
                    "listed_at": item.get("_listed_at"),
                },
            )
        )


def emit_server_certificates(result: CollectionResult, certificates: list[dict[str, Any]]) -> None:
    for item in certificates:
        try:
            uploaded = as_utc(item.get("UploadDate"))
            result.credentials.append(
                CredentialRecord(
                    external_id=str(item["Arn"]),
                    credential_type=CredentialKind.SERVER_CERTIFICATE.value,
                    name=str(item.get("ServerCertificateName") or item["Arn"]),
                    enabled=True,  # IAM has no status for server certificates: present means usable
                    created_at=uploaded,
                    last_rotated_at=uploaded,
                    expires_at=as_utc(item.get("Expiration")),
                    attributes={"server_certificate_id": item.get("ServerCertificateId"), "path": item.get("Path")},
                )
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            where = str(item.get("ServerCertificateName") or "") if isinstance(item, dict) else ""
            result.add_error("malformed_response", f"unusable ListServerCertificates entry: {exc!r}", where)
