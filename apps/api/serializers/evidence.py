"""Audit engagements and their evidence packs."""

from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from apps.api.serializers._common import JSON_OBJECT, SlugField, username
from apps.catalog.models import Requirement
from apps.evidence.models import Engagement, Pack
from apps.inventory.models import Source


class EngagementSerializer(serializers.ModelSerializer):
    created_by = username("created_by")
    pack_count = serializers.IntegerField(read_only=True)
    last_built = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = Engagement
        fields = ["id", "name", "period_start", "period_end", "created_by", "created_at", "pack_count", "last_built"]
        read_only_fields = fields


class EngagementDetailSerializer(serializers.ModelSerializer):
    created_by = username("created_by")
    sources = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True, help_text="Empty: every source.")
    requirements = serializers.SlugRelatedField(slug_field="ref", many=True, read_only=True, help_text="Empty: every sub-requirement.")

    class Meta:
        model = Engagement
        fields = ["id", "name", "period_start", "period_end", "sources", "requirements", "created_by", "created_at"]
        read_only_fields = fields


class EngagementCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    sources = serializers.PrimaryKeyRelatedField(
        queryset=Source.objects.all(), many=True, required=False, default=list, help_text="Source ids; empty: every source."
    )
    requirements = SlugField(
        slug_field="ref",
        many=True,
        queryset=Requirement.objects.filter(retired_in__isnull=True),
        required=False,
        default=list,
        help_text="Sub-requirement refs; empty: every one of 9.2.4 and 9.3.1.",
    )


PACK_FIELDS = [
    "id",
    "engagement",
    "pack_id",
    "as_of",
    "sample_size",
    "sample_seed",
    "state",
    "progress",
    "stage",
    "error",
    "sha256",
    "size",
    "pack_hash",
    "built_by",
    "created_at",
    "started_at",
    "finished_at",
]


class PackSerializer(serializers.ModelSerializer):
    built_by = username("built_by")
    url = serializers.SerializerMethodField(help_text="This pack's detail (poll it for progress).")

    class Meta:
        model = Pack
        fields = PACK_FIELDS + ["url"]
        read_only_fields = fields

    def get_url(self, pack) -> str:
        return reverse("api:pack-detail", args=[pack.pk])


class PackDetailSerializer(PackSerializer):
    data_sha256 = serializers.CharField(read_only=True)
    file_hashes = serializers.DictField(child=serializers.CharField(), read_only=True, help_text="SHA-256 of every file in the zip.")
    timings = JSON_OBJECT
    download_url = serializers.SerializerMethodField(allow_null=True)

    class Meta(PackSerializer.Meta):
        fields = PACK_FIELDS + ["url", "data_sha256", "file_hashes", "timings", "download_url"]
        read_only_fields = fields

    def get_download_url(self, pack) -> str | None:
        return reverse("api:pack-download", args=[pack.pk]) if pack.state == Pack.State.SUCCEEDED else None


class PackBuildSerializer(serializers.Serializer):
    as_of = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="The organisation as it stood then (with a time zone); omitted: now."
    )
    sample_size = serializers.IntegerField(min_value=1, max_value=2**31 - 1, default=25)
    sample_seed = serializers.IntegerField(
        min_value=0,
        max_value=2**63 - 1,
        required=False,
        allow_null=True,
        default=None,
        help_text="Omitted: fixed by the engagement and the as-of time.",
    )


class PackQueuedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    pack_id = serializers.CharField()
    state = serializers.CharField()
    progress_url = serializers.CharField(help_text="GET it for state, progress and, once built, the hashes.")


class VerifyReportSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    summary = serializers.CharField()
    problems = serializers.ListField(child=serializers.CharField())
    files_checked = serializers.IntegerField()
    manifest = serializers.DictField(child=serializers.JSONField(), help_text="The pack's manifest as read from the zip.")
