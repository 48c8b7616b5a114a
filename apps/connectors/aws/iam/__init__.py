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

Privileged rule (documented in docs/connectors.md): a user is privileged when the
AWS-managed ``AdministratorAccess`` or ``IAMFullAccess`` is attached to the user or to
one of its groups, or when any inline or customer-managed policy of the user or its
groups has an ``Allow`` statement whose Action is ``*``/``*:*``/``iam:*`` (or which uses
``NotAction``) on Resource ``*`` (or with ``NotResource``). Conditions and permission
boundaries are ignored: over-flagging sends a user to review, under-flagging hides one.
``None`` when an attached customer-managed policy's document was unavailable and
nothing else made the user privileged.

Modules: :mod:`.connector` (the order of calls, the key-listing plan, ``state``),
:mod:`.reads` (the IAM calls), :mod:`.report` (the credential report), :mod:`.policies`
(the privileged rule), :mod:`.users` (human or not; key slots), :mod:`.records` (the
records). This package re-exports their public names.
"""

from apps.connectors.aws.iam.connector import STATE_VERSION, IamConnector
from apps.connectors.aws.iam.policies import (
    aws_managed_policy_name,
    document_grants_admin,
    policy_document,
)
from apps.connectors.aws.iam.report import (
    ReportKey,
    ReportRow,
    key_digest,
    parse_credential_report,
    parse_report_bool,
    parse_report_datetime,
)
from apps.connectors.aws.iam.users import ListedKey, identity_kind, match_keys

__all__ = [
    "STATE_VERSION",
    "IamConnector",
    "ListedKey",
    "ReportKey",
    "ReportRow",
    "aws_managed_policy_name",
    "document_grants_admin",
    "identity_kind",
    "key_digest",
    "match_keys",
    "parse_credential_report",
    "parse_report_bool",
    "parse_report_datetime",
    "policy_document",
]
