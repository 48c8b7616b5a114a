"""An AWS Organization on moto's server: the management account, member accounts, OUs.

moto serves Organizations (create the organisation and accounts, OUs, close or remove an
account) with each member account its own IAM / Secrets Manager world, reached by
AssumeRole into the member's id. Seeding goes through the API (a handful of calls), the
way an administrator would; member data is seeded with :mod:`.organisation`'s helpers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MANAGEMENT_ACCOUNT = "123456789012"  # moto's account for the "testing" base credentials


@dataclass
class OrganizationSeed:
    organization_id: str
    root_id: str
    management_account: str
    accounts: dict[str, str] = field(default_factory=dict)  # name -> account id
    ous: dict[str, str] = field(default_factory=dict)  # name -> OU id


def organizations_client(url: str) -> Any:
    import boto3

    return boto3.client(
        "organizations", endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def create_organization(url: str) -> OrganizationSeed:
    """The organisation, managed from moto's default account (idempotent)."""
    client = organizations_client(url)
    try:
        organization = client.describe_organization()["Organization"]
    except client.exceptions.AWSOrganizationsNotInUseException:
        organization = client.create_organization(FeatureSet="ALL")["Organization"]
    root = client.list_roots()["Roots"][0]["Id"]
    seed = OrganizationSeed(organization["Id"], root, organization["MasterAccountId"])
    for page in client.get_paginator("list_accounts").paginate():
        seed.accounts.update({a["Name"]: a["Id"] for a in page["Accounts"]})
    for page in client.get_paginator("list_organizational_units_for_parent").paginate(ParentId=root):
        seed.ous.update({ou["Name"]: ou["Id"] for ou in page["OrganizationalUnits"]})
    return seed


def add_account(url: str, seed: OrganizationSeed, name: str, *, ou: str | None = None) -> str:
    """A new member account called ``name`` (in OU ``ou``, created if needed); its id."""
    client = organizations_client(url)
    if name in seed.accounts:
        return seed.accounts[name]
    email = f"aws+{len(seed.accounts)}@example.org"
    account_id = client.create_account(Email=email, AccountName=name)["CreateAccountStatus"]["AccountId"]
    seed.accounts[name] = account_id
    if ou is not None:
        if ou not in seed.ous:
            seed.ous[ou] = client.create_organizational_unit(ParentId=seed.root_id, Name=ou)["OrganizationalUnit"]["Id"]
        client.move_account(AccountId=account_id, SourceParentId=seed.root_id, DestinationParentId=seed.ous[ou])
    return account_id


def close_account(url: str, account_id: str) -> None:
    """Close a member account: it stays listed, SUSPENDED."""
    organizations_client(url).close_account(AccountId=account_id)


def remove_account(url: str, seed: OrganizationSeed, account_id: str) -> None:
    """The account leaves the organisation (no longer listed)."""
    organizations_client(url).remove_account_from_organization(AccountId=account_id)
    seed.accounts = {name: i for name, i in seed.accounts.items() if i != account_id}


def set_region_opt_in(region: str, status: str) -> str:
    """Set a region's opt-in status as moto's DescribeRegions reports it (every account; the
    server must run in this process). Returns the previous status, to put back."""
    from moto.ec2.models.availability_zones_and_regions import RegionsAndZonesBackend

    for entry in RegionsAndZonesBackend.regions:
        if entry.name == region:
            before, entry.opt_in_status = entry.opt_in_status, status
            return before
    raise KeyError(region)
