"""Every enabled region, discovered from the account at each collection (EC2 DescribeRegions
on moto's server over HTTP): opt-in regions not enabled are listed, a region enabled between
two runs is picked up, and a listing that fails fails the unit by name."""

from __future__ import annotations

import pytest

from apps.connectors.aws.regions import RegionsConnector, region_partition, split_regions
from apps.connectors.base import ConnectorError, Target
from apps.devtools.simulators.aws_organization import set_region_opt_in
from tests.support.aws import ACCOUNT_A, ROLE_A

TARGET = Target(kind="aws_regions", source_key=ACCOUNT_A, role_arn=ROLE_A, external_id="keytrail-ext-id")


def test_each_enabled_region_becomes_a_secrets_manager_and_a_parameter_store_unit_and_opt_in_ones_are_listed():
    result = RegionsConnector().collect(TARGET)
    regions = [t.region for t in result.spawn if t.kind == "aws_secrets_manager"]
    assert "us-east-1" in regions and "eu-west-1" in regions and regions == sorted(regions)
    assert [t.region for t in result.spawn if t.kind == "aws_ssm"] == regions
    assert all(t.source_key == ACCOUNT_A and t.role_arn == ROLE_A for t in result.spawn)
    assert all(t.unit == f"{t.kind}:{t.region}" for t in result.spawn) and len(result.spawn) == 2 * len(regions)
    not_enabled = {r["region"]: r["opt_in_status"] for r in result.facts["not_enabled_regions"]}
    assert not_enabled["ap-east-1"] == "not-opted-in" and "ap-east-1" not in regions
    # moto lists every partition's regions; this account's credentials reach only its own.
    assert not any(region_partition(r) != "aws" for r in regions) and "cn-north-1" not in not_enabled
    assert result.api_calls["DescribeRegions"] == 1 and result.errors == []


def test_a_region_enabled_between_two_runs_is_collected_by_the_second():
    first = RegionsConnector().collect(TARGET)
    before = set_region_opt_in("ap-east-1", "opted-in")
    try:
        second = RegionsConnector().collect(TARGET, previous_state=first.state)
    finally:
        set_region_opt_in("ap-east-1", before)
    assert "ap-east-1" in [t.region for t in second.spawn] and second.facts["newly_enabled"] == ["ap-east-1"]
    third = RegionsConnector().collect(TARGET, previous_state=second.state)
    assert third.facts["no_longer_enabled"] == ["ap-east-1"]


def test_a_failing_listing_fails_the_unit_and_spawns_nothing(fault_proxy):
    fault_proxy.fail("DescribeRegions", "error500")
    with pytest.raises(ConnectorError) as caught:
        RegionsConnector().collect(TARGET)
    assert caught.value.code == "service_unavailable" and "aws_regions" in str(caught.value)


def test_a_listing_without_regions_is_an_error_not_an_empty_success(fault_proxy):
    fault_proxy.fail("DescribeRegions", "garbage")
    with pytest.raises(ConnectorError) as caught:
        RegionsConnector().collect(TARGET)
    assert caught.value.code == "malformed_response"


def test_split_regions_keeps_what_it_cannot_use_as_errors():
    enabled, not_enabled, unusable = split_regions(
        [
            {"RegionName": "eu-west-1", "OptInStatus": "opt-in-not-required"},
            {"RegionName": "af-south-1", "OptInStatus": "opted-in"},
            {"RegionName": "me-south-1", "OptInStatus": "not-opted-in"},
            {"RegionName": "<script>", "OptInStatus": "opted-in"},
            "garbage",
        ]
    )
    assert enabled == ["af-south-1", "eu-west-1"] and not_enabled == [{"region": "me-south-1", "opt_in_status": "not-opted-in"}]
    assert len(unusable) == 2
    with pytest.raises(ConnectorError) as caught:
        RegionsConnector().collect(Target(kind="aws_regions", source_key=ACCOUNT_A, role_arn="arn:aws:iam::1:role/x"))
    assert caught.value.code == "assume_role_failed"
