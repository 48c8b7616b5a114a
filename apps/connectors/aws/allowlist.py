"""The only AWS operations keytrail may call, and the guard that refuses every other one.

keytrail reads credential *metadata*; it never reads a secret's value. That promise is
kept by construction, not by care: every boto3 session keytrail makes
(:func:`apps.connectors.aws.client.new_session`) and every client it builds
(:func:`apps.connectors.aws.client.make_client`) carries :func:`refuse_unlisted`, which
refuses any operation not listed in :data:`ALLOWED_OPERATIONS` **before a request is
built**: it runs on botocore's ``provide-client-params`` event, the first thing a client
call does (before parameter validation, serialisation, endpoint resolution and signing).
Paginators, waiters and presigned URLs go through the same path, so they are covered too.
A refusal is logged (``logger.error``) and raised as :class:`OperationRefused`
(``code="operation_refused"``).

Adding an operation is a reviewed one-line change here: the service, the operation's exact
name, and why it is metadata only. docs/connectors.md ("Every AWS operation keytrail may
call") lists the same table; a test keeps the two equal.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from apps.connectors.base import ConnectorError

logger = logging.getLogger(__name__)

OPERATION_REFUSED = "operation_refused"

# botocore service name (``client.meta.service_model.service_name``) -> operation -> why
# it is allowed. Read-only calls that return metadata; none returns a secret's value.
# A service that is not here (KMS, S3, ...) may call nothing at all.
ALLOWED_OPERATIONS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "sts": MappingProxyType(
            {
                "AssumeRole": "enter the account's read-only role (returns that role's temporary credentials, no customer data)",
                "GetCallerIdentity": "which account and principal a session is (account id, ARN); no data",
            }
        ),
        "iam": MappingProxyType(
            {
                "GenerateCredentialReport": "ask AWS to refresh the account's credential report (changes nothing else)",
                "GetCredentialReport": "the credential report: per user, password and access-key dates and status, MFA; no secrets",
                "GetAccountAuthorizationDetails": "users, groups and policies (documents included) to judge who is privileged",
                "GetAccountPasswordPolicy": "the account's password policy",
                "GetAccountSummary": "account-wide counters: root MFA enabled, root access keys present",
                "ListVirtualMFADevices": "which users have a virtual MFA device (serial, owner, enable date)",
                "ListAccessKeys": "a user's access key ids, status and creation dates (never the secret key)",
                "GetLoginProfile": "whether a user has a console password and its creation date (never the password)",
                "GetAccessKeyLastUsed": "when, where and for which service a key was last used",
                "ListUsers": "users (name, ARN, creation, password last used) when the report is not enough",
                "ListMFADevices": "a user's MFA devices (serial, enable date), hardware ones included",
                "ListUserTags": "a user's tags (owner, identity type)",
                "ListSSHPublicKeys": "a user's SSH public key ids, status and upload dates (not the key bodies)",
                "ListServiceSpecificCredentials": "a user's service-specific credential ids, service, status, dates (never the password)",
                "ListSigningCertificates": "a user's X.509 signing certificates: id, status, upload date and the public certificate",
                "ListServerCertificates": "server certificates' names, ids, upload and expiry dates (no private key, no body)",
            }
        ),
        "secretsmanager": MappingProxyType(
            {
                "ListSecrets": "every secret's metadata in one region: names, dates, rotation, tags (never a value)",
                "DescribeSecret": "one secret's metadata, as in ListSecrets (never a value)",
                "GetResourcePolicy": "the resource policy attached to a secret, to judge who may read it (the policy, never the secret)",
            }
        ),
        "ssm": MappingProxyType(
            {
                "DescribeParameters": "Parameter Store parameters' metadata: name, type, tier, KMS key, dates, policies (never a value)",
                "ListTagsForResource": "a parameter's tags",
            }
        ),
        "organizations": MappingProxyType(
            {
                "DescribeOrganization": "the organisation: id, management account",
                "ListAccounts": "the member accounts: id, name, status",
                "ListRoots": "the organisation's root, where the OU tree starts",
                "ListOrganizationalUnitsForParent": "the OUs under a root or OU, for include/exclude lists by OU",
                "ListAccountsForParent": "the accounts directly under a root or OU",
                "ListParents": "the root or OU an account sits in",
            }
        ),
        "cloudtrail": MappingProxyType(
            {
                "DescribeTrails": "the account's trails (multi-region, log-file validation, home region); no log contents",
                "GetTrailStatus": "whether a trail is logging now, and its latest delivery errors; no log contents",
                "GetEventSelectors": "which events a trail records (management events, read/write); no log contents",
            }
        ),
        "ec2": MappingProxyType(
            {
                "DescribeRegions": "the regions enabled for the account (and opt-in ones that are not)",
            }
        ),
        "sso-admin": MappingProxyType(
            {
                "ListInstances": "whether IAM Identity Center is set up: instance ARN, owner account, status (no users, no credentials)",
            }
        ),
        "account": MappingProxyType(
            {
                "ListRegions": "every region with its opt-in status",
            }
        ),
    }
)


class OperationRefused(ConnectorError):
    """An AWS operation that is not on :data:`ALLOWED_OPERATIONS` was attempted."""

    def __init__(self, service: str, operation: str):
        super().__init__(
            f"AWS {service}:{operation} is refused: keytrail calls only the metadata reads listed in "
            "apps/connectors/aws/allowlist.py (and never reads a secret's value)",
            code=OPERATION_REFUSED,
        )
        self.service = service
        self.operation = operation


def is_allowed(service: str, operation: str) -> bool:
    return operation in ALLOWED_OPERATIONS.get(service, {})


def check(service: str, operation: str) -> None:
    """Raise (and log) :class:`OperationRefused` unless ``service:operation`` is allowed."""
    if not is_allowed(service, operation):
        logger.error("refused AWS operation %s:%s (not on keytrail's allowlist of metadata reads)", service, operation)
        raise OperationRefused(service, operation)


def refuse_unlisted(model: Any = None, **kwargs: Any) -> None:
    """botocore ``provide-client-params`` handler: the first event of every client call."""
    if model is None:  # botocore always passes the operation model; refuse if it ever stops
        check("unknown", str(kwargs.get("event_name", "unknown")))
        return
    check(model.service_model.service_name, model.name)


# Registered under this id on sessions and clients, so registering twice is a no-op.
GUARD_ID = "keytrail-allowlist"
