"""The IAM connector: one account's users, credentials, MFA, root state and password policy.

The calls are in :mod:`.reads`, the records built from their answers in :mod:`.records`.
Two more account-level facts ride on this collection: who may read every secret
(``secret_readers``, :mod:`.secret_access`) and the account's CloudTrail trails
(``cloudtrail``, :mod:`apps.connectors.aws.cloudtrail`).
"""

from __future__ import annotations

from typing import Any

from apps.connectors.aws import cloudtrail
from apps.connectors.aws.allowlist import OPERATION_REFUSED
from apps.connectors.aws.client import aws_errors, session_for_target
from apps.connectors.aws.iam import reads, records, secret_access, user_credentials
from apps.connectors.aws.iam.policies import PolicyIndex
from apps.connectors.aws.iam.report import ROOT_ROW_USER, ReportRow
from apps.connectors.aws.iam.users import ListedKey
from apps.connectors.aws.source import AwsAccount, account_target
from apps.connectors.base import (
    CollectionResult,
    Connector,
    ConnectorError,
    SourceConfig,
    Target,
)
from apps.connectors.kinds import CredentialKind, IdentityKind

STATE_VERSION = 1


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
            rows, generated_at = reads.credential_report(iam)
            users, groups, policies = reads.authorization_details(iam)
            # All pages or nothing, like the users: a partial list would make certificates look deleted.
            server_certificates = user_credentials.list_server_certificates(iam)
        virtual_mfa = reads.optional(result, "virtual_mfa_devices", lambda: reads.virtual_mfa(iam)) or {}
        password_policy_known, password_policy = reads.password_policy(result, iam)
        summary = reads.optional(result, "account_summary", lambda: reads.account_summary(iam))
        role_details = reads.optional(result, "roles", lambda: secret_access.roles(iam))
        secret_readers = (
            secret_access.broad_secret_readers(users, groups, role_details, policies)
            if role_details is not None
            else {"status": "unknown", "error": "the account's roles could not be read (see the unit's errors)"}
        )
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

        partition = aws.partition
        index = PolicyIndex(policies, groups)
        previous_users = self._previous_users(previous_state)

        known_keys, to_list, reused = self._plan_key_listing(users, rows_by_arn, previous_users)
        listed = reads.list_keys(iam, to_list, result)
        known_keys.update(listed)
        login_profiles = reads.login_profiles(
            iam, [(u.get("Arn", ""), u.get("UserName", "")) for u in users if u.get("Arn") not in rows_by_arn], result
        )

        user_jobs = [(u.get("Arn", ""), u.get("UserName", "")) for u in users if u.get("Arn")]
        certificate_jobs = [
            (arn, name) for arn, name in user_jobs if arn not in rows_by_arn or rows_by_arn[arn].signing_certificates is not False
        ]
        other_credentials, other_state = user_credentials.list_user_credentials(
            iam,
            user_jobs,
            result,
            certificate_jobs=certificate_jobs,
            previous=previous_state.get("user_credentials") if isinstance(previous_state, dict) else None,
        )

        state_users: dict[str, Any] = {}
        for user in users:
            arn = user.get("Arn", "")
            row = rows_by_arn.get(arn)
            try:
                records.emit_user(result, iam, user, row, known_keys.get(arn), login_profiles.get(arn), index, virtual_mfa, generated_at)
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
                state_users[arn] = {"digest": row.digest, "keys": [k.to_state() for k in known_keys[arn]]}

        user_credentials.emit_server_certificates(result, server_certificates)
        root = records.emit_root(result, account_id, partition, root_row, summary, virtual_mfa, generated_at)
        listing = result.facts.get("user_credential_listing", {})
        result.facts = {
            "account_id": account_id,
            "password_policy": password_policy,
            "password_policy_status": ("unknown" if not password_policy_known else ("present" if password_policy else "absent")),
            "root": root,
            "credential_report_generated_at": generated_at,
            "secret_readers": secret_readers,
            "cloudtrail": trails,
            "collection": {
                "users": len(users),
                "users_missing_from_report": sum(1 for u in users if u.get("Arn") not in rows_by_arn),
                "access_keys_listed_for": len(to_list),
                "access_keys_reused_for": reused,
                "server_certificates": len(server_certificates),
                "signing_certificates_listed_for": len(certificate_jobs),
                "ssh_and_service_credentials_listed_for": listing.get("listed_for"),
                "ssh_and_service_credentials_reused_for": listing.get("reused_for"),
            },
        }
        result.state = {"version": STATE_VERSION, "users": state_users, "user_credentials": other_state}
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

    @staticmethod
    def _previous_users(previous_state: dict | None) -> dict[str, dict]:
        if not isinstance(previous_state, dict) or previous_state.get("version") != STATE_VERSION:
            return {}
        users = previous_state.get("users")
        return users if isinstance(users, dict) else {}
