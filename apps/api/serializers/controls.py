"""The control register and its evidence files."""

from __future__ import annotations

from rest_framework import serializers

from apps.accounts.models import User
from apps.api.serializers._common import SlugField, username
from apps.catalog.models import Requirement
from apps.controls.models import Control, ControlEvidence


class EvidenceSerializer(serializers.ModelSerializer):
    uploaded_by = username("uploaded_by")

    class Meta:
        model = ControlEvidence
        fields = ["id", "original_name", "description", "sha256", "size", "content_type", "effective_date", "uploaded_by", "uploaded_at"]
        read_only_fields = fields


class ControlSerializer(serializers.ModelSerializer):
    owner = username("owner")
    requirements = serializers.SlugRelatedField(slug_field="ref", many=True, read_only=True)
    rule_ids = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = Control
        fields = [
            "id",
            "ref",
            "title",
            "owner",
            "narrative",
            "implementation_status",
            "test_frequency",
            "rule_ids",
            "requirements",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ControlDetailSerializer(ControlSerializer):
    evidence = EvidenceSerializer(many=True, read_only=True)

    class Meta(ControlSerializer.Meta):
        fields = ControlSerializer.Meta.fields + ["evidence"]
        read_only_fields = fields


RULE_ID = r"^[a-z0-9]+(-[a-z0-9]+)*$"


class ControlWriteSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    owner = SlugField(slug_field="username", queryset=User.objects.filter(is_active=True))
    narrative = serializers.CharField(max_length=20000)
    implementation_status = serializers.ChoiceField(choices=Control.Status.choices, default=Control.Status.PLANNED)
    test_frequency = serializers.ChoiceField(choices=Control.Frequency.choices, default=Control.Frequency.QUARTERLY)
    rule_ids = serializers.ListField(child=serializers.RegexField(RULE_ID, max_length=64), default=list, max_length=100)
    requirements = SlugField(slug_field="ref", many=True, queryset=Requirement.objects.filter(retired_in__isnull=True))

    def validate_requirements(self, value):
        if not value:
            raise serializers.ValidationError("Name at least one catalog sub-requirement the control implements.")
        return value

    def validate_rule_ids(self, value):
        return list(dict.fromkeys(value))
