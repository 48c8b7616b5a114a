"""AWS Secrets Manager connector: every secret's rotation, use, change and deletion metadata.

One call of :meth:`SecretsManagerConnector.collect_stream` (streaming, one batch per
few pages) covers one (account, region). A paged
``ListSecrets`` with ``IncludePlannedDeletion=True`` returns every field keytrail records
(rotation flag and rules, last rotated/changed/accessed, next rotation, deletion date,
tags, owning service, KMS key, primary region), so no ``DescribeSecret`` is made.
Each secret's resource policy is read with ``GetResourcePolicy`` (the policy, never the
secret; :mod:`.secret_policies`) into the ``resource_policy`` attribute.
``GetSecretValue`` is never called; the client refuses it, as every operation not on the allowlist (``allowlist.py``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from apps.connectors.aws.client import as_utc, aws_errors, session_for_target, tags_dict
from apps.connectors.aws.secret_policies import read_policies
from apps.connectors.aws.source import AwsAccount, account_target
from apps.connectors.base import (
    Batch,
    CollectionResult,
    Connector,
    ConnectorError,
    CredentialRecord,
    SourceConfig,
    Target,
)
from apps.connectors.kinds import CredentialKind

PAGE_SIZE = 100  # the API's maximum
STATE_VERSION = 1
_RATE = re.compile(r"^\s*rate\(\s*(?P<n>\d+)\s+(?P<unit>days?|hours?)\s*\)\s*$", re.IGNORECASE)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _previous_policies(previous_state: dict | None) -> dict[str, Any]:
    if not isinstance(previous_state, dict) or previous_state.get("version") != STATE_VERSION:
        return {}
    policies = previous_state.get("resource_policies")
    return policies if isinstance(policies, dict) else {}


def previous_at(previous_state: dict | None, arn: str) -> str:
    """When the policy reused for ``arn`` was read (kept, so reuse never extends its age)."""
    return str(_previous_policies(previous_state)[arn]["at"])


def rotation_interval_days(rules: dict[str, Any] | None) -> tuple[int | None, dict[str, Any]]:
    """(interval in whole days or ``None``, attributes) from a secret's ``RotationRules``.

    ``AutomaticallyAfterDays`` wins; otherwise ``rate(N days)``; ``rate(N hours)``
    rounds up to whole days (a 4-hour schedule rotates within a day). ``cron(...)``
    schedules have no fixed interval: ``None``, with the expression kept in attributes.
    """
    rules = rules or {}
    attributes: dict[str, Any] = {
        "rotation_schedule_expression": rules.get("ScheduleExpression"),
        "rotation_window": rules.get("Duration"),
    }
    days = rules.get("AutomaticallyAfterDays")
    if isinstance(days, int) and days > 0:
        return days, attributes
    match = _RATE.match(str(rules.get("ScheduleExpression") or ""))
    if match:
        n = int(match["n"])
        if match["unit"].lower().startswith("day"):
            return (n or None), attributes
        attributes["rotation_interval_hours"] = n
        return (max(1, math.ceil(n / 24)) if n else None), attributes
    return None, attributes


def secret_record(secret: dict[str, Any], region: str) -> CredentialRecord:
    """One ``ListSecrets`` entry as a :class:`CredentialRecord`. Raises ``KeyError`` without an ARN."""
    interval, rotation_attributes = rotation_interval_days(secret.get("RotationRules"))
    deleted_at = as_utc(secret.get("DeletedDate"))
    return CredentialRecord(
        external_id=secret["ARN"],
        credential_type=CredentialKind.SM_SECRET.value,
        name=str(secret.get("Name") or secret["ARN"]),
        # A secret scheduled for deletion can no longer be read: treat it as disabled.
        enabled=deleted_at is None,
        created_at=as_utc(secret.get("CreatedDate")),
        last_rotated_at=as_utc(secret.get("LastRotatedDate")),
        last_used_at=as_utc(secret.get("LastAccessedDate")),  # AWS rounds this to the day
        last_changed_at=as_utc(secret.get("LastChangedDate")),
        rotation_enabled=bool(secret.get("RotationEnabled", False)),
        rotation_interval_days=interval,
        next_rotation_at=as_utc(secret.get("NextRotationDate")),
        deleted_at=deleted_at,
        tags=tags_dict(secret.get("Tags")),
        attributes={
            "description": secret.get("Description"),
            "owning_service": secret.get("OwningService"),
            "region": region,
            "kms_key_id": secret.get("KmsKeyId"),
            "primary_region": secret.get("PrimaryRegion"),
            "rotation_lambda_arn": secret.get("RotationLambdaARN") or None,
            # Versions still carrying (or listed with) staging labels: 1 means the value was never replaced.
            "version_count": len(versions) if isinstance(versions := secret.get("SecretVersionsToStages"), dict) else None,
            **rotation_attributes,
        },
    )


class SecretsManagerConnector(Connector):
    """Collects the metadata of every secret in one account and region."""

    kind = "aws_secrets_manager"
    source = AwsAccount
    credential_kinds = (CredentialKind.SM_SECRET,)
    streams = True

    @classmethod
    def targets(cls, config: SourceConfig) -> list[Target]:
        """One unit per configured region (none: the region discovery, aws_regions, spawns one per enabled region)."""
        return [account_target(cls.kind, config, region=region) for region in config.regions]

    def collect_stream(self, target: Target, *, previous_state: dict | None = None) -> CollectionResult:
        """A result whose stream lists the region's secrets page by page (ADR 0014)."""
        if not target.region:
            raise ConnectorError("a Secrets Manager target needs a region", code="invalid_target")
        result = CollectionResult(target=target)
        aws = session_for_target(target, api_calls=result.api_calls)
        client = aws.client("secretsmanager", region=target.region)
        result.stream = self._pages(result, client, aws.account_id, previous_state)
        return result

    @classmethod
    def _pages(cls, result: CollectionResult, client: Any, account_id: str, previous_state: dict | None) -> Iterator[Batch]:
        # All pages or nothing: a page that fails raises, and the inventory then applies none of
        # the unit (a partial list would make the missing secrets look deleted).
        target = result.target
        count = read = reused_count = 0
        kept: dict[str, Any] = {}
        stamp = datetime.now(UTC).isoformat()
        with aws_errors(f"{target.unit} {account_id}"):
            paginator = client.get_paginator("list_secrets")
            for page in paginator.paginate(IncludePlannedDeletion=True, PaginationConfig={"PageSize": PAGE_SIZE}):
                # botocore turns a JSON body it cannot parse into {"message": <body>} instead
                # of raising; AWS always sends SecretList (empty when there is none), so a page
                # without one is garbage, not an empty region whose secrets all disappeared.
                if not isinstance(page.get("SecretList"), list):
                    raise ConnectorError(
                        f"ListSecrets answered without a SecretList: {str(page.get('message', ''))[:200]!r}",
                        code="malformed_response",
                    )
                records: list[CredentialRecord] = []
                for secret in page["SecretList"]:
                    try:
                        records.append(secret_record(secret, target.region))
                    except (KeyError, TypeError, ValueError, AttributeError) as exc:
                        item = str(secret.get("ARN") or secret.get("Name") or "") if isinstance(secret, dict) else ""
                        result.add_error("malformed_response", f"unusable ListSecrets entry: {exc!r}", item)
                # Each page's resource policies, read (or reused) before its batch is handed on.
                reused, to_read = cls._plan_policy_reads(records, previous_state)
                policies = {**reused, **read_policies(client, to_read, result)}
                for record in records:
                    policy = policies.get(record.external_id) or {"status": "error", "error": "not read"}
                    record.attributes["resource_policy"] = policy
                    if policy.get("status") in ("none", "present"):  # errors are asked again next time
                        at = previous_at(previous_state, record.external_id) if record.external_id in reused else stamp
                        kept[record.external_id] = {"at": at, "changed": _iso(record.last_changed_at), "policy": policy}
                read += len(to_read)
                reused_count += len(reused)
                count += len(records)
                result.credentials.extend(records)
                if batch := result.take_batch():
                    yield batch
        result.facts = {
            "account_id": account_id,
            "region": target.region,
            "secrets": count,
            "resource_policies_read": read,
            "resource_policies_reused": reused_count,
        }
        result.state = {"version": STATE_VERSION, "resource_policies": kept}
        if batch := result.take_batch(0):
            yield batch

    @staticmethod
    def _plan_policy_reads(records: list[CredentialRecord], previous_state: dict | None) -> tuple[dict[str, dict], list[str]]:
        """(policies reused from ``previous_state``, ARNs to ask GetResourcePolicy for). A policy is
        reused while younger than ``AWS_SM_RESOURCE_POLICY_REFRESH_HOURS`` and the secret's
        ``LastChangedDate`` is the one it was read with."""
        from django.conf import settings

        refresh = timedelta(hours=float(getattr(settings, "AWS_SM_RESOURCE_POLICY_REFRESH_HOURS", 24.0)))
        previous = _previous_policies(previous_state)
        now = datetime.now(UTC)
        reused: dict[str, dict] = {}
        to_read: list[str] = []
        for record in records:
            entry = previous.get(record.external_id)
            try:
                fresh = (
                    isinstance(entry, dict)
                    and entry.get("changed") == _iso(record.last_changed_at)
                    and now - datetime.fromisoformat(str(entry["at"])) < refresh
                    and isinstance(entry.get("policy"), dict)
                )
            except (KeyError, TypeError, ValueError):
                fresh = False
            if fresh and isinstance(entry, dict):
                reused[record.external_id] = entry["policy"]
            else:
                to_read.append(record.external_id)
        return reused, to_read
