"""Evaluations, each catalog sub-requirement's status, and findings."""

from __future__ import annotations

from rest_framework import serializers

from apps.api.serializers._common import JSON_OBJECT, username
from apps.evaluation.models import Evaluation, Finding, RequirementState, RequirementStatus


class EvaluationSerializer(serializers.ModelSerializer):
    requested_by = username("requested_by")
    policy_version = serializers.IntegerField(source="policy_version.version", read_only=True)
    counts = JSON_OBJECT
    progress = serializers.DictField(
        child=serializers.JSONField(),
        read_only=True,
        help_text="While running: phase (loading, rules, writing, done), done, total, percent.",
    )

    class Meta:
        model = Evaluation
        fields = [
            "id",
            "state",
            "trigger",
            "requested_by",
            "collection_run",
            "policy_version",
            "as_of",
            "started_at",
            "finished_at",
            "progress",
            "counts",
            "carried",
            "judged",
            "error",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "carried": {"help_text": "Credentials and identities whose verdicts were carried unchanged from the previous evaluation."},
            "judged": {"help_text": "Credentials and identities the rules judged afresh."},
        }


class RequirementStatusSerializer(serializers.ModelSerializer):
    ref = serializers.CharField(source="requirement.ref", read_only=True)
    title = serializers.CharField(source="requirement.title", read_only=True)
    clause = serializers.CharField(source="requirement.clause.ref", read_only=True)
    status = serializers.ChoiceField(choices=RequirementState.choices, read_only=True, source="shown_status")
    rule_ids = serializers.ListField(child=serializers.CharField(), read_only=True)
    coverage = serializers.ChoiceField(
        choices=["rules", "partial", "manual"],
        source="requirement.coverage",
        read_only=True,
        help_text="How it is proven: by its rules alone, by rules and manual evidence, or by manual evidence alone (ADR 0016).",
    )
    rules_cover = serializers.CharField(source="requirement.rules_cover", read_only=True, help_text="The part its rules prove.")
    manual_evidence_for = serializers.CharField(
        source="requirement.manual_part", read_only=True, help_text="The part manual evidence on its controls must show ('' when none)."
    )
    manual_status = serializers.CharField(
        read_only=True,
        help_text="Rules prove only part of it: what its controls' manual evidence shows for the rest "
        "(evidenced, evidence_missing, evidence_stale); '' otherwise.",
    )

    class Meta:
        model = RequirementStatus
        fields = [
            "ref",
            "title",
            "clause",
            "status",
            "population",
            "failed",
            "excepted",
            "not_assessed",
            "rule_ids",
            "coverage",
            "rules_cover",
            "manual_evidence_for",
            "manual_status",
            "evaluation",
        ]
        read_only_fields = fields


class PostureSerializer(serializers.Serializer):
    evaluation = EvaluationSerializer(allow_null=True)
    requirements = RequirementStatusSerializer(many=True)


class FindingSerializer(serializers.ModelSerializer):
    source_name = serializers.CharField(source="source.name", read_only=True)

    class Meta:
        model = Finding
        fields = [
            "id",
            "evaluation",
            "rule_id",
            "status",
            "severity",
            "subject_type",
            "source",
            "source_name",
            "credential",
            "identity",
            "snapshot",
            "subject_label",
            "reason",
            "exception_id",
        ]
        read_only_fields = fields
