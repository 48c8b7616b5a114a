"""What the API reads and accepts. Output serializers describe stored metadata (never a
secret's value); input serializers check shapes only — what is valid is the services' to say,
exactly as for the UI's forms."""

from __future__ import annotations

from rest_framework import serializers

from apps.accounts.models import User
from apps.catalog.models import Requirement
from apps.controls.models import Control, ControlEvidence
from apps.evaluation.models import Evaluation, Finding, RequirementStatus, Status
from apps.exceptions_register.models import ExceptionDecision, ExceptionRequest
from apps.inventory.models import CollectionRun, CollectionUnit, Credential, CredentialEvent, Identity, Snapshot, Source

class SlugField(serializers.SlugRelatedField):
    """A related object named by a text key (a username, a requirement's ref). Text the database
    cannot hold (a NUL character) names nothing: refused like any unknown name."""

    def to_internal_value(self, data):
        if isinstance(data, str) and "\x00" in data:
            self.fail("does_not_exist", slug_name=self.slug_field, value="(contains a NUL character)")
        return super().to_internal_value(data)


JSON_OBJECT = serializers.DictField(child=serializers.JSONField(), read_only=True)


def _username(field: str = "") -> serializers.CharField:
    return serializers.CharField(source=f"{field}.username" if field else "username", read_only=True, allow_null=True, default=None)


# --- sources and runs -----------------------------------------------------------------------

class SourceSerializer(serializers.ModelSerializer):
    created_by = _username("created_by")
    regions = serializers.ListField(child=serializers.CharField(), read_only=True)
    vault_url = serializers.CharField(read_only=True, help_text="The Key Vault's URL; empty for an AWS account.")
    last_run_id = serializers.IntegerField(read_only=True, allow_null=True)
    last_run_status = serializers.ChoiceField(choices=CollectionRun.Status.choices, read_only=True, allow_null=True)
    last_run_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = Source
        fields = ["id", "name", "kind", "enabled", "aws_account_id", "role_arn", "external_id", "regions", "vault_url",
                  "schedule_minutes", "created_by", "created_at", "updated_at", "last_run_id", "last_run_status", "last_run_at"]
        read_only_fields = fields


class SourceCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    kind = serializers.ChoiceField(choices=Source.Kind.choices)
    role_arn = serializers.CharField(max_length=2048, required=False, allow_blank=True, default="")
    external_id = serializers.CharField(max_length=1224, required=False, allow_blank=True, default="")
    regions = serializers.ListField(child=serializers.CharField(max_length=40), required=False, default=list, max_length=50)
    vault_url = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    schedule_minutes = serializers.IntegerField(min_value=15, max_value=43200, required=False, default=1440)


class SourceUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120, required=False)
    role_arn = serializers.CharField(max_length=2048, required=False, allow_blank=True)
    external_id = serializers.CharField(max_length=1224, required=False, allow_blank=True)
    regions = serializers.ListField(child=serializers.CharField(max_length=40), required=False, max_length=50)
    vault_url = serializers.CharField(max_length=300, required=False, allow_blank=True)
    schedule_minutes = serializers.IntegerField(min_value=15, max_value=43200, required=False)
    enabled = serializers.BooleanField(required=False)


RUN_FIELDS = ["id", "status", "trigger", "requested_by", "retry_of", "created_at", "started_at", "finished_at"]


class RunSerializer(serializers.ModelSerializer):
    requested_by = _username("requested_by")
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
        fields = ["id", "source", "source_name", "connector", "scope", "region", "status", "attempts", "started_at",
                  "finished_at", "api_calls", "counts", "errors", "snapshot_sha256"]
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
    requested_by = _username("requested_by")
    is_finished = serializers.BooleanField(read_only=True)
    progress = ProgressSerializer(read_only=True)
    units = UnitSerializer(many=True, read_only=True)

    class Meta:
        model = CollectionRun
        fields = RUN_FIELDS + ["is_finished", "progress", "units"]
        read_only_fields = fields


class RunStartSerializer(serializers.Serializer):
    source_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, max_length=1000,
                                       help_text="The sources to collect; omitted or empty: every enabled source you may collect.")


# --- inventory ----------------------------------------------------------------------------

CREDENTIAL_FIELDS = ["id", "source", "source_name", "scope", "external_id", "credential_type", "name", "identity", "enabled",
                     "created_at", "last_rotated_at", "last_used_at", "last_changed_at", "expires_at", "not_before",
                     "rotation_enabled", "rotation_interval_days", "next_rotation_at", "deleted_at", "owner", "tags",
                     "first_seen_at", "disappeared_at"]


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
        fields = ["id", "source", "source_name", "scope", "external_id", "name", "kind", "created_at", "privileged",
                  "mfa_active", "owner", "first_seen_at", "disappeared_at", "credential_count"]
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
    changes = serializers.ListField(child=serializers.DictField(child=serializers.CharField()),
                                    help_text="What differs from the version before: field, old, new (as text).")

    def to_representation(self, instance):
        return {
            "id": instance.pk, "valid_from": serializers.DateTimeField().to_representation(instance.valid_from),
            "valid_to": serializers.DateTimeField().to_representation(instance.valid_to) if instance.valid_to else None,
            "fingerprint": instance.fingerprint, "snapshot": instance.first_snapshot_id,
            "data": instance.data if isinstance(instance.data, dict) else {},
            "changes": [{"field": f, "old": o, "new": n} for f, o, n in getattr(instance, "changes", [])],
        }


class CredentialEventSerializer(serializers.ModelSerializer):
    detail = JSON_OBJECT

    class Meta:
        model = CredentialEvent
        fields = ["id", "kind", "observed_at", "snapshot", "detail"]
        read_only_fields = fields


# --- evaluation ---------------------------------------------------------------------------

class EvaluationSerializer(serializers.ModelSerializer):
    requested_by = _username("requested_by")
    policy_version = serializers.IntegerField(source="policy_version.version", read_only=True)
    counts = JSON_OBJECT
    progress = serializers.DictField(child=serializers.JSONField(), read_only=True,
                                     help_text="While running: phase (loading, rules, writing, done), done, total, percent.")

    class Meta:
        model = Evaluation
        fields = ["id", "state", "trigger", "requested_by", "collection_run", "policy_version", "as_of", "started_at",
                  "finished_at", "progress", "counts", "error"]
        read_only_fields = fields


class RequirementStatusSerializer(serializers.ModelSerializer):
    ref = serializers.CharField(source="requirement.ref", read_only=True)
    title = serializers.CharField(source="requirement.title", read_only=True)
    clause = serializers.CharField(source="requirement.clause.ref", read_only=True)
    status = serializers.ChoiceField(choices=[*Status.choices, ("manual", "Manual (no rule tests it)")], read_only=True,
                                     source="shown_status")
    rule_ids = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = RequirementStatus
        fields = ["ref", "title", "clause", "status", "population", "failed", "excepted", "not_assessed", "rule_ids", "evaluation"]
        read_only_fields = fields


class PostureSerializer(serializers.Serializer):
    evaluation = EvaluationSerializer(allow_null=True)
    requirements = RequirementStatusSerializer(many=True)


class FindingSerializer(serializers.ModelSerializer):
    source_name = serializers.CharField(source="source.name", read_only=True)

    class Meta:
        model = Finding
        fields = ["id", "evaluation", "rule_id", "status", "severity", "subject_type", "source", "source_name", "credential",
                  "identity", "snapshot", "subject_label", "reason", "exception_id"]
        read_only_fields = fields


# --- controls -----------------------------------------------------------------------------

class EvidenceSerializer(serializers.ModelSerializer):
    uploaded_by = _username("uploaded_by")

    class Meta:
        model = ControlEvidence
        fields = ["id", "original_name", "description", "sha256", "size", "content_type", "effective_date", "uploaded_by", "uploaded_at"]
        read_only_fields = fields


class ControlSerializer(serializers.ModelSerializer):
    owner = _username("owner")
    requirements = serializers.SlugRelatedField(slug_field="ref", many=True, read_only=True)
    rule_ids = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = Control
        fields = ["id", "ref", "title", "owner", "narrative", "implementation_status", "test_frequency", "rule_ids",
                  "requirements", "created_at", "updated_at"]
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
    requirements = SlugField(slug_field="ref", many=True,
                                queryset=Requirement.objects.filter(retired_in__isnull=True))

    def validate_requirements(self, value):
        if not value:
            raise serializers.ValidationError("Name at least one catalog sub-requirement the control implements.")
        return value

    def validate_rule_ids(self, value):
        return list(dict.fromkeys(value))


# --- exceptions ---------------------------------------------------------------------------

class DecisionSerializer(serializers.ModelSerializer):
    approver = _username("approver")

    class Meta:
        model = ExceptionDecision
        fields = ["approver", "decision", "comment", "decided_at"]
        read_only_fields = fields


class TagSerializer(serializers.Serializer):
    key = serializers.CharField(max_length=128)
    value = serializers.CharField(max_length=256)


class ScopeSerializer(serializers.Serializer):
    credential_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, max_length=10000)
    identity_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, max_length=10000)
    source_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, max_length=1000)
    tag = TagSerializer(required=False)


class ExceptionSerializer(serializers.ModelSerializer):
    owner = _username("owner")
    requester = _username("requester")
    rule_ids = serializers.ListField(child=serializers.CharField(), read_only=True)
    scope = ScopeSerializer(read_only=True)
    approvals = serializers.IntegerField(read_only=True)

    class Meta:
        model = ExceptionRequest
        fields = ["id", "ref", "title", "state", "risk", "rule_ids", "scope", "scope_is_broad", "owner", "requester",
                  "expires_on", "ticket_ref", "required_approvals", "approvals", "renewal_of", "created_at", "submitted_at",
                  "decided_at", "ended_at"]
        read_only_fields = fields


class ExceptionDetailSerializer(ExceptionSerializer):
    decisions = DecisionSerializer(many=True, read_only=True, source="decision_rows")

    class Meta(ExceptionSerializer.Meta):
        fields = ExceptionSerializer.Meta.fields + ["justification", "compensating_controls", "decisions"]
        read_only_fields = fields


class ExceptionCreatedSerializer(ExceptionDetailSerializer):
    warnings = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta(ExceptionDetailSerializer.Meta):
        fields = ExceptionDetailSerializer.Meta.fields + ["warnings"]
        read_only_fields = fields


class ExceptionRequestSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    rule_ids = serializers.ListField(child=serializers.CharField(max_length=64), min_length=1, max_length=50)
    scope = ScopeSerializer(required=False, default=dict)
    confirm_broad = serializers.BooleanField(default=False, help_text="The scope is empty on purpose: excuse every subject of these rules.")
    justification = serializers.CharField(max_length=20000)
    compensating_controls = serializers.CharField(max_length=20000)
    risk = serializers.ChoiceField(choices=ExceptionRequest.Risk.choices)
    owner = SlugField(slug_field="username", queryset=User.objects.filter(is_active=True))
    expires_on = serializers.DateField()
    ticket_ref = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    submit = serializers.BooleanField(default=True, help_text="False: save as a draft.")


class CommentSerializer(serializers.Serializer):
    comment = serializers.CharField(max_length=20000, allow_blank=True, required=False, default="")
