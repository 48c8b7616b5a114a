"""The exception register: exceptions, their decisions and requests."""

from __future__ import annotations

from rest_framework import serializers

from apps.accounts.models import User
from apps.api.serializers._common import SlugField, TagSerializer, username
from apps.core.ids import ID_MAX
from apps.exceptions_register.models import ExceptionDecision, ExceptionRequest


class DecisionSerializer(serializers.ModelSerializer):
    approver = username("approver")

    class Meta:
        model = ExceptionDecision
        fields = ["approver", "decision", "comment", "decided_at"]
        read_only_fields = fields


class ScopeSerializer(serializers.Serializer):
    credential_ids = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=ID_MAX), required=False, max_length=10000)
    identity_ids = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=ID_MAX), required=False, max_length=10000)
    source_ids = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=ID_MAX), required=False, max_length=1000)
    tag = TagSerializer(required=False)


class ExceptionSerializer(serializers.ModelSerializer):
    owner = username("owner")
    requester = username("requester")
    rule_ids = serializers.ListField(child=serializers.CharField(), read_only=True)
    scope = ScopeSerializer(read_only=True)
    approvals = serializers.IntegerField(read_only=True)

    class Meta:
        model = ExceptionRequest
        fields = [
            "id",
            "ref",
            "title",
            "state",
            "risk",
            "risk_reason",
            "rule_ids",
            "scope",
            "scope_is_broad",
            "owner",
            "requester",
            "expires_on",
            "ticket_ref",
            "required_approvals",
            "approvals",
            "renewal_of",
            "created_at",
            "submitted_at",
            "decided_at",
            "ended_at",
        ]
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
    risk_reason = serializers.CharField(
        max_length=20000,
        required=False,
        allow_blank=True,
        default="",
        help_text="Required when the risk is below the highest severity of the rules; shown to approvers.",
    )
    owner = SlugField(slug_field="username", queryset=User.objects.filter(is_active=True))
    expires_on = serializers.DateField()
    ticket_ref = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    submit = serializers.BooleanField(default=True, help_text="False: save as a draft.")
