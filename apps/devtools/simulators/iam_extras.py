"""What moto's IAM does not simulate (or simulates with fixed values), answered inside moto's server.

moto 5.2 does not implement ``ListServiceSpecificCredentials`` (its server answers "not
implemented"), and its ``ListServerCertificates`` answers a fixed id, a 2010 upload date and
a 2012 expiry for every certificate. keytrail's simulated cloud answers both itself:
:func:`install` adds the two operations to moto's IAM responder class, so they are served by
the same moto server, over the same HTTP, serialised by moto in AWS's own wire format (query
protocol, XML) from botocore's service model. Every consumer of the simulated AWS (tests, the
demo, benchmarks) gets them without an extra hop; a reverse proxy in front of moto, like
:mod:`.faults`, would put one on every other call.

Data lives on moto's own objects, so ``POST /moto-api/reset`` wipes it with everything else:

* service-specific credentials on the moto user (:func:`add_service_specific_credential`);
* a server certificate's expiry is read from its PEM body's ``notAfter`` (as AWS does); its id
  and upload date are fixed when first listed, or set by :func:`set_server_certificate_upload`;
* moto's credential report writes the user's creation as ``password_last_changed`` (and its
  ``GetLoginProfile`` the same as the profile's creation), so every password looks never
  changed: :func:`set_password_last_changed` records a change, written into the report's
  column, and :func:`set_login_profile_created` the profile's creation (on the moto user);
* moto's ``CreateLoginProfile`` ignores ``PasswordResetRequired`` (its ``GetLoginProfile``
  always answers false): the flag sent is kept on the moto user.

moto's ``GetAccountAuthorizationDetails`` and ``ListUsers`` answer everything in one document
and ignore ``MaxItems``/``Marker`` (at 50,000 users that one answer took moto longer than
keytrail's read timeout): both are paged here as AWS pages them, ``MaxItems`` items per answer
(default 100, at most 1,000), ``IsTruncated`` and an opaque ``Marker`` for the next page
(:func:`_paged`). The authorization details are one sequence over the four lists in AWS's
order (users, groups, roles, policies): a page may hold the end of one list and the start of
the next.

Nothing here is imported by the product.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

_ATTRIBUTE = "keytrail_service_specific_credentials"
_installed = False


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16].upper()


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def add_service_specific_credential(
    account_id: str,
    user_name: str,
    service_name: str = "codecommit.amazonaws.com",
    *,
    status: str = "Active",
    created: datetime | None = None,
) -> str:
    """Give moto's user ``user_name`` a service-specific credential; returns its id.

    Raises moto's ``NoSuchEntity`` when the user does not exist, as AWS would.
    """
    from apps.devtools.simulators.aws import iam_backend

    user = iam_backend(account_id).get_user(user_name)
    created = created or datetime.now(UTC)
    existing = len(getattr(user, _ATTRIBUTE, None) or [])
    # Reproducible for the same seeding (the demo restarts its cloud and re-seeds it).
    credential_id = "ACCA" + _digest(account_id, user_name, service_name, _iso(created), str(existing))
    credentials = getattr(user, _ATTRIBUTE, None)
    if credentials is None:
        credentials = []
        setattr(user, _ATTRIBUTE, credentials)
    credentials.append(
        {
            "UserName": user_name,
            "Status": status,
            # AWS derives the service user name from the IAM user name and a random suffix.
            "ServiceUserName": f"{user_name}-at-{account_id}"[:200],
            "CreateDate": _iso(created),
            "ServiceSpecificCredentialId": credential_id,
            "ServiceName": service_name,
        }
    )
    return credential_id


def set_server_certificate_upload(account_id: str, name: str, uploaded: datetime) -> None:
    """Backdate a server certificate's upload date (no API does)."""
    from apps.devtools.simulators.aws import iam_backend

    cert = iam_backend(account_id).get_server_certificate(name)
    cert.keytrail_upload_date = _iso(uploaded)


def _list_service_specific_credentials(self: Any) -> Any:
    from moto.core.responses import ActionResult

    user_name = self._get_param("UserName")
    service = self._get_param("ServiceName")
    user = self.backend.get_user(user_name)  # NoSuchEntity for an unknown user, as AWS
    items = [c for c in getattr(user, _ATTRIBUTE, []) if not service or c["ServiceName"] == service]
    return ActionResult({"ServiceSpecificCredentials": items})


def _expiry(body: str) -> str | None:
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(body.encode())
    except (ValueError, TypeError):
        return None
    return _iso(cert.not_valid_after_utc)


def _list_server_certificates(self: Any) -> Any:
    from moto.core.responses import ActionResult

    prefix = self._get_param("PathPrefix") or "/"
    items = []
    for cert in self.backend.list_server_certificates():
        if not cert.path.startswith(prefix):
            continue
        if not getattr(cert, "keytrail_id", None):
            cert.keytrail_id = "ASCA" + _digest(cert.arn)  # stable across re-seeding (the demo's bodies are new each start)
        if not getattr(cert, "keytrail_upload_date", None):
            cert.keytrail_upload_date = _iso(datetime.now(UTC))
        item = {
            "ServerCertificateName": cert.cert_name,
            "Path": cert.path,
            "Arn": cert.arn,
            "UploadDate": cert.keytrail_upload_date,
            "ServerCertificateId": cert.keytrail_id,
        }
        expiry = _expiry(cert.cert_body or "")
        if expiry:
            item["Expiration"] = expiry
        items.append(item)
    return ActionResult({"ServerCertificateMetadataList": items, "IsTruncated": False})


DEFAULT_MAX_ITEMS = 100  # AWS's default for IAM's paged operations
MAX_MAX_ITEMS = 1000  # and its maximum
_MARKER_PREFIX = "keytrail"


def _paged(self: Any, items: list[Any]) -> tuple[list[Any], str | None]:
    """(this page of ``items``, the marker of the next page or None) for the request's
    ``MaxItems`` and ``Marker``. The marker is the offset, made opaque like AWS's; one that
    does not decode answers ``InvalidInput`` (AWS: ValidationError), as a stale marker may."""
    from moto.iam.exceptions import IAMException

    try:
        max_items = int(self._get_param("MaxItems") or DEFAULT_MAX_ITEMS)
    except ValueError:
        raise IAMException("ValidationError", "MaxItems must be an integer") from None
    if not 1 <= max_items <= MAX_MAX_ITEMS:
        raise IAMException("ValidationError", f"MaxItems must be between 1 and {MAX_MAX_ITEMS}")
    marker = self._get_param("Marker")
    start = 0
    if marker:
        try:
            prefix, _, offset = bytes.fromhex(marker).decode().partition(":")
            start = int(offset) if prefix == _MARKER_PREFIX else -1
        except ValueError:
            start = -1
        if start < 0:
            raise IAMException("ValidationError", "Invalid Marker")
    end = start + max_items
    return items[start:end], (f"{_MARKER_PREFIX}:{end}".encode().hex() if end < len(items) else None)


def _page_result(result: dict[str, Any], marker: str | None) -> Any:
    from moto.core.responses import ActionResult

    result["IsTruncated"] = marker is not None
    if marker is not None:
        result["Marker"] = marker
    return ActionResult(result)


def _get_account_authorization_details(self: Any) -> Any:
    details = self.backend.get_account_authorization_details(self._get_param("Filter", []))
    lists = (
        ("UserDetailList", list(details["users"])),
        ("GroupDetailList", list(details["groups"])),
        ("RoleDetailList", list(details["roles"])),
        ("Policies", list(details["managed_policies"])),
    )
    sequence = [(key, item) for key, items in lists for item in items]
    page, marker = _paged(self, sequence)
    result: dict[str, Any] = {key: [] for key, _ in lists}
    for key, item in page:
        result[key].append(item)
    return _page_result(result, marker)


def _list_users(self: Any) -> Any:
    users = list(self.backend.list_users(self._get_param("PathPrefix"), None, None))
    page, marker = _paged(self, users)
    return _page_result({"Users": page}, marker)


_PASSWORD_CHANGED = "keytrail_password_last_changed"
_PROFILE_CREATED = "keytrail_login_profile_created"


def set_password_last_changed(account_id: str, user_name: str, changed: datetime) -> None:
    """The date the credential report gives as the user's ``password_last_changed``."""
    from apps.devtools.simulators.aws import iam_backend

    setattr(iam_backend(account_id).get_user(user_name), _PASSWORD_CHANGED, changed)


def set_login_profile_created(account_id: str, user_name: str, created: datetime) -> None:
    """The ``CreateDate`` ``GetLoginProfile`` answers for the user (moto: the user's creation)."""
    from apps.devtools.simulators.aws import iam_backend

    setattr(iam_backend(account_id).get_user(user_name), _PROFILE_CREATED, created)


def _user_csv(original: Any) -> Any:
    def to_csv(self: Any) -> str:
        line = original(self)
        changed = getattr(self, _PASSWORD_CHANGED, None)
        if changed is None or not self.password:
            return line
        fields = line.rstrip("\n").split(",")
        fields[5] = changed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")  # password_last_changed
        return ",".join(fields) + "\n"

    return to_csv


def _get_login_profile(original: Any) -> Any:
    def get_login_profile(self: Any) -> Any:
        created = None
        try:
            created = getattr(self.backend.get_user(self._get_param("UserName")), _PROFILE_CREATED, None)
        except Exception:  # noqa: BLE001 - moto's own answer says what is wrong
            created = None
        answer = original(self)
        if created is not None:
            answer.result["LoginProfile"]["CreateDate"] = created
        return answer

    return get_login_profile


def _create_login_profile(original: Any) -> Any:
    def create_login_profile(self: Any) -> Any:
        answer = original(self)
        reset = str(self._get_param("PasswordResetRequired") or "").lower() == "true"
        user = self.backend.get_user(self._get_param("UserName"))
        user.password_reset_required = reset
        answer.result["LoginProfile"]["PasswordResetRequired"] = reset
        return answer

    return create_login_profile


def install() -> None:
    """Teach moto's IAM responder the operations above (idempotent; before or after start)."""
    global _installed
    if _installed:
        return
    from moto.iam.responses import IamResponse

    IamResponse.list_service_specific_credentials = _list_service_specific_credentials  # type: ignore[attr-defined]
    IamResponse.list_server_certificates = _list_server_certificates  # type: ignore[method-assign]
    IamResponse.get_account_authorization_details = _get_account_authorization_details  # type: ignore[method-assign]
    IamResponse.list_users = _list_users  # type: ignore[method-assign]
    from moto.iam.models import User

    User.to_csv = _user_csv(User.to_csv)  # type: ignore[method-assign]
    IamResponse.get_login_profile = _get_login_profile(IamResponse.get_login_profile)  # type: ignore[method-assign]
    IamResponse.create_login_profile = _create_login_profile(IamResponse.create_login_profile)  # type: ignore[method-assign]
    _installed = True
