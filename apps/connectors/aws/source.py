"""An AWS account as a source: the role keytrail assumes, its external id, and the regions
whose Secrets Manager is read (none: every enabled region, discovered at each collection).
Shared by the IAM, Secrets Manager and region-discovery connectors.

Importing this module builds no client and imports no SDK.
"""

from __future__ import annotations

import re

from apps.connectors.base import SettingField, SourceConfig, SourceSpec, Target
from apps.connectors.kinds import SourceKind
from apps.core.errors import ValidationFailed

ROLE_ARN = re.compile(r"^arn:aws(?:-[a-z]+)*:iam::(\d{12}):role/[\w+=,.@/-]{1,512}$")
EXTERNAL_ID = re.compile(r"^[\w+=,.@:/-]{2,1224}$")
REGION = re.compile(r"^[a-z]{2}(?:-gov|-iso[a-z]*)?-[a-z]+-\d{1,2}$")


class AwsAccount(SourceSpec):
    kind = SourceKind.AWS_ACCOUNT
    key_label = "AWS account"
    key_setting = "role_arn"
    fields = (
        SettingField("aws_account_id", "Account", derived=True),
        SettingField(
            "role_arn", "Role ARN", max_length=2048, help_text="The role keytrail assumes: arn:aws:iam::<12-digit account>:role/<name>."
        ),
        SettingField(
            "external_id",
            "External id",
            required=False,
            max_length=1224,
            help_text="Optional; required by the role's trust policy if it names one.",
        ),
        SettingField(
            "regions",
            "Regions",
            required=False,
            max_length=2000,
            many=True,
            help_text=(
                "Secrets Manager regions, separated by commas or spaces (e.g. eu-west-1 us-east-1). "
                "Empty: every region enabled in the account, discovered at each collection."
            ),
            empty="every enabled region",
        ),
    )

    @classmethod
    def validate(cls, config: SourceConfig) -> SourceConfig:
        role_arn, account_id, external_id = validate_role(config)
        regions = validate_regions(config.regions)
        return SourceConfig(kind=cls.kind.value, role_arn=role_arn, external_id=external_id, regions=regions, aws_account_id=account_id)

    @classmethod
    def source_key(cls, config: SourceConfig) -> str:
        return config.aws_account_id

    @classmethod
    def location(cls, config: SourceConfig) -> str:
        return config.role_arn


def validate_role(config: SourceConfig) -> tuple[str, str, str]:
    """``(role ARN, its account id, external id)`` of ``config``, stripped; raises
    ValidationFailed naming the field that is malformed."""
    role_arn = (config.role_arn or "").strip()
    match = ROLE_ARN.match(role_arn)
    if not match:
        raise ValidationFailed("Role ARN: expected arn:aws:iam::<12-digit account>:role/<name>.")
    external_id = (config.external_id or "").strip()
    if external_id and not EXTERNAL_ID.match(external_id):
        raise ValidationFailed("External id: 2 to 1224 characters of letters, digits and +=,.@:/-")
    return role_arn, match.group(1), external_id


def validate_regions(values: tuple[str, ...]) -> tuple[str, ...]:
    """Region names stripped, checked and deduplicated; raises ValidationFailed ("Regions: ...")."""
    regions: list[str] = []
    for region in values:
        region = region.strip()
        if not region:
            continue
        if not REGION.match(region):
            raise ValidationFailed(f"Regions: {region[:40]!r} is not an AWS region name (e.g. eu-west-1).")
        if region not in regions:
            regions.append(region)
    return tuple(regions)


def account_target(kind: str, config: SourceConfig, *, region: str = "") -> Target:
    """The unit of this account that connector ``kind`` collects (in ``region`` for a regional service)."""
    return Target(kind=kind, source_key=config.aws_account_id, role_arn=config.role_arn, external_id=config.external_id, region=region)
