"""Collected credentials and identities, their versions and events (metadata only)."""

from __future__ import annotations

from rest_framework import serializers

from apps.api.serializers._common import JSON_OBJECT
from apps.inventory.models import Credential, CredentialEvent, Identity

CREDENTIAL_FIELDS = [
    "id",
    "source",
    "source_name",
    "scope",
    "external_id",
    "credential_type",
    "name",
    "identity",
    "enabled",
    "created_at",
    "last_rotated_at",
    "last_used_at",
    "last_changed_at",
    "expires_at",
    "not_before",
    "rotation_enabled",
    "rotation_interval_days",
    "next_rotation_at",
    "deleted_at",
    "owner",
    "tags",
    "first_seen_at",
    "disappeared_at",
]


class CredentialSerializer(serializers.ModelSerializer):
    source_name = serializers.CharField(source="source.name", read_only=True)
    tags = JSON_OBJECT

    class Meta:
        model = Credential
        fields = CREDENTIAL_FIELDS
        read_only_fields = fields


class CredentialDetailSerializer(CredentialSerializer):
    attributes = JSON_OBJECT

    class Meta(CredentialSerializer.Meta):
        fields = CREDENTIAL_FIELDS + ["attributes"]
        read_only_fields = fields


class IdentitySerializer(serializers.ModelSerializer):
    source_name = serializers.CharField(source="source.name", read_only=True)
    credential_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Identity
        fields = [
            "id",
            "source",
            "source_name",
            "scope",
            "external_id",
            "name",
            "kind",
            "created_at",
            "privileged",
            "mfa_active",
            "owner",
            "first_seen_at",
            "disappeared_at",
            "credential_count",
        ]
        read_only_fields = fields


class IdentityDetailSerializer(IdentitySerializer):
    tags = JSON_OBJECT
    data = JSON_OBJECT
    credential_count = None

    class Meta(IdentitySerializer.Meta):
        fields = [f for f in IdentitySerializer.Meta.fields if f != "credential_count"] + ["tags", "data"]
        read_only_fields = fields


class VersionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    valid_from = serializers.DateTimeField()
    valid_to = serializers.DateTimeField(allow_null=True)
    fingerprint = serializers.CharField()
    snapshot = serializers.IntegerField(source="first_snapshot_id")
    data = serializers.DictField(child=serializers.JSONField())
    changes = serializers.ListField(
        child=serializers.DictField(child=serializers.CharField()),
        help_text="What differs from the version before: field, old, new (as text).",
    )

    def to_representation(self, instance):
        return {
            "id": instance.pk,
            "valid_from": serializers.DateTimeField().to_representation(instance.valid_from),
            "valid_to": serializers.DateTimeField().to_representation(instance.valid_to) if instance.valid_to else None,
            "fingerprint": instance.fingerprint,
            "snapshot": instance.first_snapshot_id,
            "data": instance.data if isinstance(instance.data, dict) else {},
            "changes": [{"field": f, "old": o, "new": n} for f, o, n in getattr(instance, "changes", [])],
        }


class CredentialEventSerializer(serializers.ModelSerializer):
    detail = JSON_OBJECT

    class Meta:
        model = CredentialEvent
        fields = ["id", "kind", "observed_at", "snapshot", "detail"]
        read_only_fields = fields
