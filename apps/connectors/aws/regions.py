"""Every enabled region of an AWS account, discovered at each collection.

An account source whose regions are left empty gets this discovery unit instead of a fixed
list: one ``EC2 DescribeRegions`` with ``AllRegions=True`` (the regions AWS enables by
default say ``opt-in-not-required``, opt-in regions the account turned on ``opted-in``, the
others ``not-opted-in``). Each enabled region becomes a Secrets Manager unit of the same
run (and a Parameter Store unit), on the workers (:attr:`CollectionResult.spawn`); the opt-in regions that are not
enabled are listed in the unit's facts, so a page can say so.

A listing that fails fails this unit: no region unit is spawned, the run is not
"succeeded", and the scope ``aws_regions`` names why. ``Account ListRegions`` answers the
same question but is not served by moto, and EC2's answer is enough, so it is not called.
"""

from __future__ import annotations

from typing import Any

from apps.connectors.aws.client import aws_errors, session_for_target
from apps.connectors.aws.source import REGION, AwsAccount, account_target
from apps.connectors.base import CollectionResult, Connector, ConnectorError, SourceConfig, Target

ENABLED = frozenset({"opt-in-not-required", "opted-in"})
# The regional services a discovered region is collected for, in this order.
REGIONAL_CONNECTORS: tuple[str, ...] = ("aws_secrets_manager", "aws_ssm")


def region_partition(region: str) -> str:
    """The AWS partition a region name belongs to (``aws``, ``aws-cn``, ``aws-us-gov``, ``aws-iso*``)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    for iso in ("-isob-", "-isof-", "-isoe-", "-iso-"):
        if iso in region:
            return "aws" + iso.rstrip("-")
    return "aws"


def split_regions(regions: list[dict[str, Any]], *, partition: str = "aws") -> tuple[list[str], list[dict[str, str]], list[str]]:
    """``(enabled, not_enabled, unusable)`` from ``DescribeRegions``' ``Regions``: enabled region
    names of ``partition`` sorted; ``{"region", "opt_in_status"}`` of its others; entries
    without a usable name. Another partition's regions cannot be reached with this account's
    credentials (AWS lists none; moto lists them all): they are left out."""
    enabled: set[str] = set()
    not_enabled: list[dict[str, str]] = []
    unusable: list[str] = []
    for entry in regions:
        name = entry.get("RegionName") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not REGION.match(name):
            unusable.append(repr(entry)[:200])
            continue
        if region_partition(name) != partition:
            continue
        status = str(entry.get("OptInStatus") or "opt-in-not-required")
        if status in ENABLED:
            enabled.add(name)
        else:
            not_enabled.append({"region": name, "opt_in_status": status})
    return sorted(enabled), sorted(not_enabled, key=lambda r: r["region"]), unusable


class RegionsConnector(Connector):
    """Discovers the regions enabled for an account and spawns its regional units."""

    kind = "aws_regions"
    source = AwsAccount
    discovers = True

    @classmethod
    def targets(cls, config: SourceConfig) -> list[Target]:
        """One discovery unit when no region is pinned; none otherwise."""
        return [] if config.regions else [account_target(cls.kind, config)]

    def collect(self, target: Target, *, previous_state: dict | None = None) -> CollectionResult:
        result = CollectionResult(target=target)
        aws = session_for_target(target, api_calls=result.api_calls)
        ec2 = aws.client("ec2")
        with aws_errors(f"{target.unit} {aws.account_id}"):
            answer = ec2.describe_regions(AllRegions=True)
            if not isinstance(answer.get("Regions"), list):
                raise ConnectorError("DescribeRegions answered without a region list", code="malformed_response")
            enabled, not_enabled, unusable = split_regions(answer["Regions"], partition=aws.partition)
        for entry in unusable:
            result.add_error("malformed_response", "a DescribeRegions entry has no usable region name", entry)
        if not enabled:
            # AWS always enables some regions: an empty answer is a fault, and "nothing to
            # collect" would let the run say it succeeded while collecting nothing.
            raise ConnectorError("DescribeRegions listed no enabled region; nothing could be collected", code="no_regions")
        before = set((previous_state or {}).get("enabled") or [])
        result.spawn = [
            Target(kind=kind, source_key=target.source_key, role_arn=target.role_arn, external_id=target.external_id, region=region)
            for region in enabled
            for kind in REGIONAL_CONNECTORS
        ]
        result.facts = {
            "account_id": aws.account_id,
            "enabled_regions": enabled,
            "not_enabled_regions": not_enabled,
            "newly_enabled": sorted(set(enabled) - before) if before else [],
            "no_longer_enabled": sorted(before - set(enabled)),
        }
        result.state = {"enabled": enabled}
        return result
