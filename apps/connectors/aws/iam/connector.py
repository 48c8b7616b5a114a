"""The IAM connector: one account's users, credentials, MFA, root state and password policy.

The calls are in :mod:`.reads`, the records built from their answers in :mod:`.records`.
Two more account-level facts ride on this collection: who may read every secret
(``secret_readers``, :mod:`.secret_access`) and the account's CloudTrail trails
(``cloudtrail``, :mod:`apps.connectors.aws.cloudtrail`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from apps.connectors.aws import cloudtrail
from apps.connectors.aws.allowlist import OPERATION_REFUSED
from apps.connectors.aws.client import aws_errors, session_for_target
from apps.connectors.aws.iam import identity, reads, records, secret_access, user_credentials
from apps.connectors.aws.iam.policies import PolicyIndex
from apps.connectors.aws.iam.report import ROOT_ROW_USER, ReportRow
from apps.connectors.aws.iam.users import ListedKey
from apps.connectors.aws.source import AwsAccount, account_target
from apps.connectors.base import (
    STREAM_BATCH_RECORDS,
    Batch,
    CollectionResult,
    Connector,
    ConnectorError,
    SourceConfig,
    Target,
)
from apps.connectors.kinds import CredentialKind, IdentityKind

STATE_VERSION = 1
_RELEASED: dict = {}  # stands in for a user's raw entry the stream has handed on
# Users whose per-user calls are made together and whose records are built before the next
# page's calls: what the collection holds of them at once.
USER_PAGE = 1000


@dataclass(slots=True)
class _PageListings:
    """What the per-user calls answered for one page of users (see ``_page_listings``)."""

    keys: dict[str, list[ListedKey]]  # by user ARN; a user missing: ListAccessKeys failed
    login_profiles: dict[str, dict | None]  # by user ARN
    profile_state: dict[str, Any]  # the page's part of state["login_profiles"]
    other_credentials: dict[str, dict[str, list[dict]]]  # SSH keys, service credentials, signing certificates
    other_state: dict[str, Any]  # the page's part of state["user_credentials"]
    keys_listed_for: int
    keys_reused_for: int
    certificates_listed_for: int


class IamConnector(Connector):
    """Collects one AWS account's IAM users, credentials, MFA, root state and password policy."""

    kind = "aws_iam"
    source = AwsAccount
    # In this order the credential kinds are offered (forms, filters).
    credential_kinds = (
        CredentialKind.CONSOLE_PASSWORD,
        CredentialKind.ACCESS_KEY,
        CredentialKind.ROOT_ACCESS_KEY,
        CredentialKind.SSH_PUBLIC_KEY,
        CredentialKind.SERVICE_CREDENTIAL,
        CredentialKind.SIGNING_CERTIFICATE,
        CredentialKind.SERVER_CERTIFICATE,
    )
    identity_kinds = (IdentityKind.HUMAN, IdentityKind.SERVICE, IdentityKind.ROOT)
    provides_source_facts = True  # password policy, root MFA and keys: the account's facts
    streams = True  # the users' records are handed on in batches (ADR 0014)

    @classmethod
    def targets(cls, config: SourceConfig) -> list[Target]:
        """One unit: IAM is global to the account."""
        return [account_target(cls.kind, config)]

    def collect_stream(self, target: Target, *, previous_state: dict | None = None) -> CollectionResult:
        """Make the account-wide calls, then return a result whose stream makes the per-user
        calls and builds the users' records one page of users at a time (:data:`USER_PAGE`);
        facts and state are set once the last batch is taken."""
        result = CollectionResult(target=target)
        aws = session_for_target(target, api_calls=result.api_calls)
        iam = aws.client("iam")
        account_id = aws.account_id

        with aws_errors(f"{target.unit} {account_id}"):
            rows, generated_at = reads.credential_report(iam)
            users, groups, policies, roles = reads.authorization_details(iam)
            # All pages or nothing, like the users: a partial list would make certificates look deleted.
            server_certificates = user_credentials.list_server_certificates(iam)
        virtual_mfa = reads.optional(result, "virtual_mfa_devices", lambda: reads.virtual_mfa(iam)) or {}
        password_policy_known, password_policy = reads.password_policy(result, iam)
        summary = reads.optional(result, "account_summary", lambda: reads.account_summary(iam))
        # Roles come with the users from the one GetAccountAuthorizationDetails call (Role filter);
        # the users are judged page by page in the stream.
        roles = [r for r in roles if isinstance(r, dict)]
        secret_readers = secret_access.SecretReaders(groups, policies)
        trails = cloudtrail.read_trails(aws, result)

        rows_by_arn: dict[str, ReportRow] = {}
        root_row: ReportRow | None = None
        for report_row in rows:
            if report_row.user == ROOT_ROW_USER:
                root_row = report_row
            else:
                rows_by_arn[report_row.arn] = report_row
            if report_row.problems:
                result.add_error("malformed_value", "; ".join(report_row.problems), report_row.arn or report_row.user)
        del rows  # the rows live on in rows_by_arn only, each until its user's records are built

        # Read before the first batch: every console password record carries its status.
        identity_center = identity.identity_center(aws, result)

        result.stream = self._records(
            result,
            iam,
            account_id=account_id,
            partition=aws.partition,
            users=users,
            rows_by_arn=rows_by_arn,
            root_row=root_row,
            previous_state=previous_state if isinstance(previous_state, dict) else {},
            index=PolicyIndex(policies, groups),
            virtual_mfa=virtual_mfa,
            generated_at=generated_at,
            server_certificates=server_certificates,
            password_policy=(password_policy_known, password_policy),
            summary=summary,
            identity_center=identity_center,
            roles=roles,
            secret_readers=secret_readers,
            trails=trails,
        )
        return result

    def _records(
        self,
        result: CollectionResult,
        iam: Any,
        *,
        account_id: str,
        partition: str,
        users: reads.UserDetails,
        rows_by_arn: dict[str, ReportRow],
        root_row: ReportRow | None,
        previous_state: dict,
        index: PolicyIndex,
        virtual_mfa: dict,
        generated_at: Any,
        server_certificates: list,
        password_policy: tuple[bool, Any],
        summary: Any,
        identity_center: dict,
        roles: list[dict],
        secret_readers: secret_access.SecretReaders,
        trails: Any,
    ) -> Iterator[Batch]:
        """The users' records in batches, one page of users at a time (its per-user calls
        first), then the server certificates and root; sets facts and state last."""
        password_policy_known, policy = password_policy
        previous_users = self._previous_users(previous_state)
        previous_credentials = previous_state.get("user_credentials")
        previous_profiles = previous_state.get("login_profiles")
        state_users: dict[str, Any] = {}
        other_state: dict[str, Any] = {"version": 1, "users": {}}
        profile_state: dict[str, Any] = {}
        # Console access is counted over every batch (identity controls), batch by batch: the
        # records of earlier batches are not kept alive for it.
        console_access = identity.console_access([])
        user_count = missing_from_report = listed_for = reused = certificates_listed_for = 0
        now = datetime.now(UTC)  # one listing time for the collection (the ``_listed_at`` of each item)

        def take(at_least: int = STREAM_BATCH_RECORDS) -> Batch | None:
            batch = result.take_batch(at_least)
            if batch is not None:
                for key, count in identity.console_access(batch.identities).items():
                    console_access[key] += count
                for credential in batch.credentials:
                    if credential.credential_type == CredentialKind.CONSOLE_PASSWORD.value:
                        credential.attributes["identity_center"] = identity_center["status"]
            return batch

        first = True
        while first or users:
            first = False
            page = users.take(USER_PAGE)  # an account without users still makes its (empty) listings once
            user_count += len(page)
            missing_from_report += sum(1 for u in page if u.get("Arn") not in rows_by_arn)
            secret_readers.judge_users(page)
            listings = self._page_listings(iam, result, page, rows_by_arn, previous_users, previous_credentials, previous_profiles, now)
            listed_for += listings.keys_listed_for
            reused += listings.keys_reused_for
            certificates_listed_for += listings.certificates_listed_for
            other_state["users"].update(listings.other_state["users"])
            profile_state.update(listings.profile_state)
            known_keys, login_profiles, other_credentials = listings.keys, listings.login_profiles, listings.other_credentials
            for position, user in enumerate(page):
                page[position] = _RELEASED  # the entry is released once its records are built
                arn = user.get("Arn", "")
                row = rows_by_arn.pop(arn, None)
                try:
                    records.emit_user(
                        result, iam, user, row, known_keys.get(arn), login_profiles.get(arn), index, virtual_mfa, generated_at
                    )
                except ConnectorError as exc:
                    if exc.retryable or exc.code == OPERATION_REFUSED:
                        raise
                    result.add_error(exc.code, str(exc), arn)
                    continue
                except Exception as exc:  # noqa: BLE001 - one bad user must not stop the account
                    result.add_error("malformed_response", f"{type(exc).__name__}: {exc}", arn)
                    continue
                try:
                    user_credentials.emit_user_credentials(result, arn, user.get("UserName") or arn, other_credentials)
                except (KeyError, TypeError, ValueError, AttributeError) as exc:
                    result.add_error("malformed_response", f"unusable SSH key, service credential or certificate entry: {exc!r}", arn)
                if row is not None and row.keys and arn in known_keys:
                    state_users[arn] = self._key_state(row.digest, known_keys[arn], previous_users.get(arn))
                if batch := take():
                    yield batch
            del page, listings, known_keys, login_profiles, other_credentials

        user_credentials.emit_server_certificates(result, server_certificates)
        root = records.emit_root(result, account_id, partition, root_row, summary, virtual_mfa, generated_at)
        last = take(0)
        listing = result.facts.get("user_credential_listing", {})
        profile_listing = result.facts.get("login_profile_listing", {})
        result.facts = {
            "account_id": account_id,
            "password_policy": policy,
            "password_policy_status": ("unknown" if not password_policy_known else ("present" if policy else "absent")),
            "root": root,
            "credential_report_generated_at": generated_at,
            "identity_center": identity_center,
            "external_trust": identity.external_trust_roles(roles, account_id, result),
            "console_access": console_access,
            "secret_readers": secret_readers.fact(roles),
            "cloudtrail": trails,
            "collection": {
                "users": user_count,
                "users_missing_from_report": missing_from_report,
                "access_keys_listed_for": listed_for,
                "access_keys_reused_for": reused,
                "server_certificates": len(server_certificates),
                "signing_certificates_listed_for": certificates_listed_for,
                "ssh_and_service_credentials_listed_for": listing.get("listed_for"),
                "ssh_and_service_credentials_reused_for": listing.get("reused_for"),
                "login_profiles_listed_for": profile_listing.get("listed_for"),
            },
        }
        result.state = {"version": STATE_VERSION, "users": state_users, "user_credentials": other_state, "login_profiles": profile_state}
        if last is not None:
            yield last

    def _page_listings(
        self,
        iam: Any,
        result: CollectionResult,
        page: list[dict],
        rows_by_arn: dict[str, ReportRow],
        previous_users: dict[str, dict],
        previous_credentials: Any,
        previous_profiles: Any,
        now: datetime,
    ) -> _PageListings:
        """The per-user calls for one page of users, in the order the whole account's were made."""
        known_keys, to_list, reused = self._plan_key_listing(page, rows_by_arn, previous_users)
        known_keys.update(reads.list_keys(iam, to_list, result))
        login_profiles = reads.login_profiles(
            iam, [(u.get("Arn", ""), u.get("UserName", "")) for u in page if u.get("Arn") not in rows_by_arn], result
        )
        # Login profiles of report users with a password (reset flag, creation): identity controls.
        password_profiles, profile_state = identity.password_login_profiles(iam, page, rows_by_arn, result, previous_profiles)
        user_jobs = [(u.get("Arn", ""), u.get("UserName", "")) for u in page if u.get("Arn")]
        certificate_jobs = [
            (arn, name) for arn, name in user_jobs if arn not in rows_by_arn or rows_by_arn[arn].signing_certificates is not False
        ]
        other_credentials, other_state = user_credentials.list_user_credentials(
            iam, user_jobs, result, certificate_jobs=certificate_jobs, previous=previous_credentials, now=now
        )
        return _PageListings(
            keys=known_keys,
            login_profiles={**password_profiles, **login_profiles},
            profile_state=profile_state,
            other_credentials=other_credentials,
            other_state=other_state,
            keys_listed_for=len(to_list),
            keys_reused_for=reused,
            certificates_listed_for=len(certificate_jobs),
        )

    @staticmethod
    def _key_state(digest: str, keys: list[ListedKey], previous: Any) -> dict[str, Any]:
        """A user's entry of ``state["users"]``: last time's entry itself when it says the same
        (a repeat then holds one copy of it, not two)."""
        listed = [k.to_state() for k in keys]
        if isinstance(previous, dict) and previous.get("digest") == digest and previous.get("keys") == listed and len(previous) == 2:
            return previous
        return {"digest": digest, "keys": listed}

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

    @staticmethod
    def _previous_users(previous_state: dict | None) -> dict[str, dict]:
        if not isinstance(previous_state, dict) or previous_state.get("version") != STATE_VERSION:
            return {}
        users = previous_state.get("users")
        return users if isinstance(users, dict) else {}
