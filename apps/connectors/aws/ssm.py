"""AWS Systems Manager Parameter Store connector: parameter metadata, never a value.

One call of :meth:`ParameterStoreConnector.collect_stream` covers one (account, region), handed
on in batches (ADR 0014):

1. ``DescribeParameters``, paged (50 a page, the API's maximum), all pages or nothing: name,
   type, tier, KMS key, last modified date and user, version, data type, parameter policies.
2. ``ListTagsForResource`` for each parameter kept (owner and request references live in tags).

Kept as credentials: every ``SecureString`` parameter, and every plaintext ``String`` /
``StringList`` parameter whose *name* looks like a secret's (:data:`SECRET_NAME_PATTERN`,
overridable by the ``AWS_SSM_SECRET_NAME_PATTERN`` setting), so that the finding about it has
a subject. Other plaintext parameters are counted, not kept. ``GetParameter``,
``GetParameters`` and ``GetParametersByPath`` are never called; the client refuses them, as
every operation not on the allowlist (``allowlist.py``).

Parameter policies (``Expiration``, ``ExpirationNotification``, ``NoChangeNotification``) come
as JSON text; one that does not parse is a per-parameter error (``malformed_policy``) and
the parameter is kept with ``policy_errors`` set, so rules that need its policies say "not
assessed" instead of guessing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from typing import Any

from django.conf import settings

from apps.connectors.aws.client import as_utc, aws_errors, session_for_target, tags_dict
from apps.connectors.aws.iam.reads import per_user
from apps.connectors.aws.source import AwsAccount, account_target
from apps.connectors.base import (
    STREAM_BATCH_RECORDS,
    Batch,
    CollectionResult,
    Connector,
    ConnectorError,
    CredentialRecord,
    SourceConfig,
    Target,
)
from apps.connectors.kinds import CredentialKind

PAGE_SIZE = 50  # DescribeParameters' maximum
SECURE_STRING = "SecureString"
PLAINTEXT_TYPES = frozenset({"String", "StringList"})
# Words that make a parameter name look like it holds a secret. Matched anywhere in the name,
# case-insensitively: "/prod/db/password", "STRIPE_API_KEY", "github-token".
SECRET_NAME_PATTERN = (
    r"passw(or)?d|pwd|secret|token|api[_.-]?key|apikey|private[_.-]?key|access[_.-]?key|"
    r"credential|client[_.-]?secret|signing[_.-]?key|conn(ection)?[_.-]?string"
)
# Failures that concern one parameter's tags (deleted since the listing, a deny on it).
_ITEM_ERRORS = frozenset({"InvalidResourceId", "ParameterNotFound", "AccessDeniedException", "AccessDenied"})


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise ConnectorError(
            f"AWS_SSM_SECRET_NAME_PATTERN is not a valid regular expression ({exc}): {pattern[:200]!r}", code="invalid_setting"
        ) from exc


def secret_name_match(name: str) -> str | None:
    """The part of ``name`` that looks like a secret's, or ``None``. Raises ConnectorError
    (``invalid_setting``) when ``AWS_SSM_SECRET_NAME_PATTERN`` is not a regular expression."""
    pattern = getattr(settings, "AWS_SSM_SECRET_NAME_PATTERN", "") or SECRET_NAME_PATTERN
    match = _compiled(pattern).search(name)
    return match.group(0) if match else None


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_policies(policies: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """(policies as ``{"type", "status", "attributes"}``, problems) from ``Policies``.

    ``PolicyText`` is JSON text (AWS); moto's server sends it already parsed, which is taken
    as is. A policy that is not a JSON object with a ``Type`` is a problem, never a guess.
    """
    parsed: list[dict[str, Any]] = []
    problems: list[str] = []
    if policies is None:
        return parsed, problems
    if not isinstance(policies, list):
        return parsed, [f"Policies is not a list: {str(policies)[:120]!r}"]
    for i, policy in enumerate(policies, start=1):
        text = policy.get("PolicyText") if isinstance(policy, dict) else None
        document: Any = text
        if isinstance(text, str):
            try:
                document = json.loads(text)
            except json.JSONDecodeError as exc:
                problems.append(f"policy {i} is not valid JSON ({exc.msg} at position {exc.pos}): {text[:120]!r}")
                continue
        if not isinstance(document, dict) or not isinstance(document.get("Type"), str):
            problems.append(f"policy {i} has no Type: {str(text)[:120]!r}")
            continue
        attributes = document.get("Attributes")
        parsed.append(
            {
                "type": document["Type"],
                "status": policy.get("PolicyStatus") if isinstance(policy.get("PolicyStatus"), str) else None,
                "attributes": attributes if isinstance(attributes, dict) else {},
            }
        )
    return parsed, problems


def _expiry(policies: list[dict[str, Any]], problems: list[str]) -> datetime | None:
    for policy in policies:
        if policy["type"] == "Expiration":
            when = _parse_time(policy["attributes"].get("Timestamp"))
            if when is None:
                problems.append(f"Expiration policy without a readable Timestamp: {str(policy['attributes'])[:120]!r}")
            return when
    return None


def parameter_record(
    parameter: dict[str, Any], *, region: str, account_id: str, partition: str
) -> tuple[CredentialRecord, list[str]] | None:
    """A ``DescribeParameters`` entry as a record (with its problems), or ``None`` when the
    parameter is plaintext with an ordinary name. Raises ``KeyError`` without a name."""
    name = str(parameter["Name"])
    parameter_type = parameter.get("Type")
    match = None
    if parameter_type == SECURE_STRING:
        credential_type = CredentialKind.SSM_SECURE_STRING.value
    else:
        match = secret_name_match(name)
        if match is None:
            return None
        credential_type = CredentialKind.SSM_PLAINTEXT_PARAMETER.value
    policies, problems = parse_policies(parameter.get("Policies"))
    expires_at = _expiry(policies, problems)
    modified = as_utc(parameter.get("LastModifiedDate"))
    user = parameter.get("LastModifiedUser")
    record = CredentialRecord(
        external_id=str(parameter.get("ARN") or f"arn:{partition}:ssm:{region}:{account_id}:parameter/{name.lstrip('/')}"),
        credential_type=credential_type,
        name=name,
        enabled=True,  # Parameter Store has no disabled state
        # A SecureString changes by being overwritten with a new version: that is its rotation.
        last_rotated_at=modified,
        last_changed_at=modified,
        expires_at=expires_at,
        attributes={
            "parameter_type": parameter_type,
            "tier": parameter.get("Tier"),
            "kms_key_id": parameter.get("KeyId"),
            "last_modified_user": None if user in (None, "", "N/A") else str(user),
            "version": parameter.get("Version"),
            "data_type": parameter.get("DataType"),
            "description": parameter.get("Description"),
            "region": region,
            "policies": policies,
            "policy_errors": problems,
            "expiration_policy": expires_at is not None,
            "no_change_notification": next((p["attributes"] for p in policies if p["type"] == "NoChangeNotification"), None),
            "secret_name_match": match,
            "last_used_status": "not_recorded_by_aws",
        },
    )
    return record, problems


class ParameterStoreConnector(Connector):
    """Collects the SecureString parameters (and secret-named plaintext ones) of one account and region."""

    kind = "aws_ssm"
    source = AwsAccount
    credential_kinds = (CredentialKind.SSM_SECURE_STRING, CredentialKind.SSM_PLAINTEXT_PARAMETER)
    streams = True

    @classmethod
    def targets(cls, config: SourceConfig) -> list[Target]:
        """One unit per configured region, like Secrets Manager."""
        return [account_target(cls.kind, config, region=region) for region in config.regions]

    def collect_stream(self, target: Target, *, previous_state: dict | None = None) -> CollectionResult:
        """A result whose stream lists the region's parameters page by page and hands them on,
        tagged, a batch at a time (ADR 0014)."""
        if not target.region:
            raise ConnectorError("a Parameter Store target needs a region", code="invalid_target")
        result = CollectionResult(target=target)
        aws = session_for_target(target, api_calls=result.api_calls)
        client = aws.client("ssm", region=target.region)
        result.stream = self._pages(result, client, aws)
        return result

    @staticmethod
    def _tagged(result: CollectionResult, client: Any, kept: list[CredentialRecord]) -> list[CredentialRecord]:
        tags = per_user(
            [(r.name, r.name) for r in kept],
            lambda name: client.list_tags_for_resource(ResourceType="Parameter", ResourceId=name).get("TagList") or [],
            result,
            _ITEM_ERRORS,
            context="ListTagsForResource",
        )
        for record in kept:
            if record.name in tags:
                record.tags = tags_dict(tags[record.name])
            else:
                record.attributes["malformed_fields"] = ["tags"]  # could not be read: the error is recorded
        return kept

    def _pages(self, result: CollectionResult, client: Any, aws: Any) -> Iterator[Batch]:
        # All pages or nothing: a page that fails raises and the inventory applies none of the unit.
        target = result.target
        kept: list[CredentialRecord] = []
        parameters = plaintext_ordinary = secure = plaintext_secret_like = 0
        with aws_errors(f"{target.unit} {aws.account_id}"):
            for page in client.get_paginator("describe_parameters").paginate(PaginationConfig={"PageSize": PAGE_SIZE}):
                if not isinstance(page.get("Parameters"), list):
                    raise ConnectorError(
                        f"DescribeParameters answered without a Parameters list: {str(page.get('message', ''))[:200]!r}",
                        code="malformed_response",
                    )
                for parameter in page["Parameters"]:
                    parameters += 1
                    item = str(parameter.get("Name") or "") if isinstance(parameter, dict) else ""
                    try:
                        built = parameter_record(parameter, region=target.region, account_id=aws.account_id, partition=aws.partition)
                    except (KeyError, TypeError, ValueError, AttributeError) as exc:
                        result.add_error("malformed_response", f"unusable DescribeParameters entry: {exc!r}", item)
                        continue
                    if built is None:
                        plaintext_ordinary += 1
                        continue
                    record, problems = built
                    for problem in problems:
                        result.add_error("malformed_policy", f"parameter policy unreadable: {problem}", record.name)
                    kept.append(record)
                    secure += record.credential_type == CredentialKind.SSM_SECURE_STRING
                    plaintext_secret_like += record.credential_type == CredentialKind.SSM_PLAINTEXT_PARAMETER
                if len(kept) >= STREAM_BATCH_RECORDS:
                    yield Batch(credentials=self._tagged(result, client, kept))
                    kept = []
            if kept:
                yield Batch(credentials=self._tagged(result, client, kept))
        result.facts = {
            "account_id": aws.account_id,
            "region": target.region,
            "parameters": parameters,
            "secure_strings": secure,
            "plaintext_secret_like": plaintext_secret_like,
            "plaintext_other": plaintext_ordinary,
        }
