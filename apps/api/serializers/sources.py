"""Sources and their collection runs."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.api.serializers._common import JSON_OBJECT, username
from apps.inventory.models import CollectionRun, CollectionUnit, Snapshot, Source


class SourceSerializer(serializers.ModelSerializer):
    created_by = username("created_by")
    regions = serializers.ListField(child=serializers.CharField(), read_only=True)
    vault_url = serializers.CharField(read_only=True, help_text="The Key Vault's URL; empty for an AWS account.")
    member_role_name = serializers.CharField(read_only=True, help_text="An AWS organisation's role in each member account.")
    include_ids = serializers.ListField(child=serializers.CharField(), read_only=True)
    exclude_ids = serializers.ListField(child=serializers.CharField(), read_only=True)
    subscription_ids = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text="An Azure subscription source's subscriptions (empty: every one of its tenant).",
    )
    tenant_id = serializers.CharField(read_only=True, help_text="An Azure subscription source's tenant id.")
    graph_tenant_id = serializers.CharField(read_only=True, help_text="An Entra ID tenant's directory id.")
    graph_url = serializers.CharField(read_only=True, help_text="An Entra ID tenant's Graph endpoint (empty: https://graph.microsoft.com).")
    parent = serializers.PrimaryKeyRelatedField(
        read_only=True,
        allow_null=True,
        help_text="The AWS organisation or Azure subscription source this account or vault was registered by (null: registered by a person).",
    )
    last_run_id = serializers.IntegerField(read_only=True, allow_null=True)
    last_run_status = serializers.ChoiceField(choices=CollectionRun.Status.choices, read_only=True, allow_null=True)
    last_run_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = Source
        fields = [
            "id",
            "name",
            "kind",
            "enabled",
            "aws_account_id",
            "role_arn",
            "external_id",
            "regions",
            "vault_url",
            "member_role_name",
            "include_ids",
            "exclude_ids",
            "subscription_ids",
            "tenant_id",
            "graph_tenant_id",
            "graph_url",
            "parent",
            "schedule_minutes",
            "created_by",
            "created_at",
            "updated_at",
            "last_run_id",
            "last_run_status",
            "last_run_at",
        ]
        read_only_fields = fields


class OrganizationAccountSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    status = serializers.CharField(help_text="The account's status in AWS Organizations (ACTIVE, SUSPENDED...).")
    decision = serializers.ChoiceField(choices=["collect", "excluded", "not_included", "not_assessed"])
    reason = serializers.CharField(help_text="Why the account is not collected (empty when it is).")
    event = serializers.CharField(help_text="appeared, status_changed or empty, against the discovery before.")
    member_source = serializers.IntegerField(allow_null=True, help_text="Its member source, when you may view it.")
    health = serializers.ChoiceField(choices=["succeeded", "failed", "running", "never"])
    problem = serializers.CharField(help_text="The first failed unit's error in the member's latest run.")


class OrganizationSerializer(serializers.Serializer):
    taken_at = serializers.DateTimeField()
    organization_id = serializers.CharField()
    accounts = OrganizationAccountSerializer(many=True)
    left = serializers.ListField(child=serializers.DictField(child=serializers.CharField()))


class SubscriptionVaultSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="The vault's URL (its member source's key).")
    name = serializers.CharField()
    subscription_id = serializers.CharField()
    event = serializers.CharField(help_text="appeared or empty, against the discovery before.")
    member_source = serializers.IntegerField(allow_null=True, help_text="Its member source, when you may view it.")
    health = serializers.ChoiceField(choices=["succeeded", "failed", "running", "never"])
    problem = serializers.CharField(help_text="The first failed unit's error in the member's latest run (a vault refusing keytrail).")
    facts = serializers.DictField(
        child=serializers.JSONField(),
        help_text="Vault-level facts from Resource Manager (soft delete, purge protection, network, secret readers).",
    )


class SubscriptionNotAssessedSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    reason = serializers.CharField()


class SubscriptionSerializer(serializers.Serializer):
    taken_at = serializers.DateTimeField()
    vaults = SubscriptionVaultSerializer(many=True)
    left = serializers.ListField(child=serializers.DictField(child=serializers.CharField()))
    not_assessed = SubscriptionNotAssessedSerializer(many=True)


class SourceDetailSerializer(SourceSerializer):
    organization = serializers.SerializerMethodField(
        help_text="An AWS organisation's accounts as its latest discovery found them, each with its health; null otherwise."
    )
    subscription = serializers.SerializerMethodField(
        help_text="An Azure subscription source's vaults as its latest discovery found them, each with its health; null otherwise."
    )

    class Meta(SourceSerializer.Meta):
        fields = [*SourceSerializer.Meta.fields, "organization", "subscription"]
        read_only_fields = fields

    @extend_schema_field(SubscriptionSerializer(allow_null=True))
    def get_subscription(self, source) -> dict | None:
        found = self.context.get("subscription")
        if not found:
            return None
        vaults = [
            {
                **{k: str(v.get(k) or "") for k in ("key", "name", "subscription_id", "event")},
                "member_source": v["member"].pk if v["member"] else None,
                "health": v["health"],
                "problem": (v["health_row"] or {}).get("problem", ""),
                "facts": v["facts"],
            }
            for v in found["vaults"]
        ]
        not_assessed = [{k: str(a.get(k) or "") for k in ("id", "name", "reason")} for a in found["not_assessed"]]
        return SubscriptionSerializer({**found, "vaults": vaults, "not_assessed": not_assessed}).data

    @extend_schema_field(OrganizationSerializer(allow_null=True))
    def get_organization(self, source) -> dict | None:
        found = self.context.get("organization")
        if not found:
            return None
        accounts = [
            {
                **{k: str(a.get(k) or "") for k in ("id", "name", "status", "decision", "reason", "event")},
                "member_source": a["member"].pk if a["member"] else None,
                "health": a["health"],
                "problem": (a["health_row"] or {}).get("problem", ""),
            }
            for a in found["accounts"]
        ]
        data = {**found, "accounts": accounts}
        return OrganizationSerializer(data).data


class SourceCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    kind = serializers.ChoiceField(choices=Source.Kind.choices)
    role_arn = serializers.CharField(max_length=2048, required=False, allow_blank=True, default="")
    external_id = serializers.CharField(max_length=1224, required=False, allow_blank=True, default="")
    regions = serializers.ListField(child=serializers.CharField(max_length=40), required=False, default=list, max_length=50)
    vault_url = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    member_role_name = serializers.CharField(max_length=512, required=False, allow_blank=True, default="")
    include_ids = serializers.ListField(child=serializers.CharField(max_length=80), required=False, default=list, max_length=500)
    exclude_ids = serializers.ListField(child=serializers.CharField(max_length=80), required=False, default=list, max_length=500)
    subscription_ids = serializers.ListField(child=serializers.CharField(max_length=80), required=False, default=list, max_length=50)
    tenant_id = serializers.CharField(max_length=80, required=False, allow_blank=True, default="")
    graph_tenant_id = serializers.CharField(max_length=36, required=False, allow_blank=True, default="")
    graph_url = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    schedule_minutes = serializers.IntegerField(min_value=15, max_value=43200, required=False, default=1440)


class SourceUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120, required=False)
    role_arn = serializers.CharField(max_length=2048, required=False, allow_blank=True)
    external_id = serializers.CharField(max_length=1224, required=False, allow_blank=True)
    regions = serializers.ListField(child=serializers.CharField(max_length=40), required=False, max_length=50)
    vault_url = serializers.CharField(max_length=300, required=False, allow_blank=True)
    member_role_name = serializers.CharField(max_length=512, required=False, allow_blank=True)
    include_ids = serializers.ListField(child=serializers.CharField(max_length=80), required=False, max_length=500)
    exclude_ids = serializers.ListField(child=serializers.CharField(max_length=80), required=False, max_length=500)
    subscription_ids = serializers.ListField(child=serializers.CharField(max_length=80), required=False, max_length=50)
    tenant_id = serializers.CharField(max_length=80, required=False, allow_blank=True)
    graph_tenant_id = serializers.CharField(max_length=36, required=False, allow_blank=True)
    graph_url = serializers.CharField(max_length=300, required=False, allow_blank=True)
    schedule_minutes = serializers.IntegerField(min_value=15, max_value=43200, required=False)
    enabled = serializers.BooleanField(required=False)


RUN_FIELDS = ["id", "status", "trigger", "requested_by", "retry_of", "created_at", "started_at", "finished_at"]


class RunSerializer(serializers.ModelSerializer):
    requested_by = username("requested_by")
    unit_total = serializers.IntegerField(read_only=True)
    unit_ok = serializers.IntegerField(read_only=True)
    unit_failed = serializers.IntegerField(read_only=True)

    class Meta:
        model = CollectionRun
        fields = RUN_FIELDS + ["unit_total", "unit_ok", "unit_failed"]
        read_only_fields = fields


class UnitSerializer(serializers.ModelSerializer):
    source_name = serializers.CharField(source="source.name", read_only=True)
    api_calls = JSON_OBJECT
    counts = JSON_OBJECT
    errors = serializers.ListField(child=serializers.DictField(child=serializers.JSONField()), read_only=True)
    snapshot_sha256 = serializers.SerializerMethodField()

    class Meta:
        model = CollectionUnit
        fields = [
            "id",
            "source",
            "source_name",
            "connector",
            "scope",
            "region",
            "status",
            "attempts",
            "started_at",
            "finished_at",
            "api_calls",
            "counts",
            "errors",
            "snapshot_sha256",
        ]
        read_only_fields = fields

    def get_snapshot_sha256(self, unit) -> str | None:
        try:
            return unit.snapshot.content_sha256
        except Snapshot.DoesNotExist:  # a unit that has not succeeded has no snapshot
            return None


class ProgressSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    done = serializers.IntegerField()
    failed = serializers.IntegerField()
    percent = serializers.IntegerField()


class RunDetailSerializer(serializers.ModelSerializer):
    requested_by = username("requested_by")
    is_finished = serializers.BooleanField(read_only=True)
    progress = ProgressSerializer(read_only=True)
    units = UnitSerializer(many=True, read_only=True)

    class Meta:
        model = CollectionRun
        fields = RUN_FIELDS + ["is_finished", "progress", "units"]
        read_only_fields = fields


class RunStartSerializer(serializers.Serializer):
    source_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        max_length=1000,
        help_text="The sources to collect; omitted or empty: every enabled source you may collect.",
    )
