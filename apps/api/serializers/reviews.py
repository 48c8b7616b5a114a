"""Access reviews: campaigns, their items, decisions, reassignment and remediation."""

from __future__ import annotations

from rest_framework import serializers

from apps.accounts.models import User
from apps.api.serializers._common import JSON_OBJECT, SlugField, TagSerializer, username
from apps.reviews.models import Campaign, JustificationRule, Remediation, RemediationEvent, ReviewItem, UndecidedRule

CAMPAIGN_FIELDS = [
    "id",
    "name",
    "state",
    "scope",
    "due_date",
    "fallback_reviewer",
    "justification_rule",
    "undecided_rule",
    "created_by",
    "created_at",
    "started_at",
    "population_count",
    "population_hash",
    "signed_off_at",
    "signed_off_by",
    "sign_off_note",
    "cancelled_at",
    "start_error",
]


class _CampaignBase(serializers.ModelSerializer):
    scope = JSON_OBJECT
    fallback_reviewer = username("fallback_reviewer")
    created_by = username("created_by")
    signed_off_by = username("signed_off_by")


class CampaignSerializer(_CampaignBase):
    decided = serializers.IntegerField(read_only=True, help_text="Items decided (of those visible in the list).")
    mine = serializers.IntegerField(read_only=True, help_text="Your undecided items.")

    class Meta:
        model = Campaign
        fields = CAMPAIGN_FIELDS + ["decided", "mine"]
        read_only_fields = fields


class ReviewerProgressSerializer(serializers.Serializer):
    reviewer = serializers.CharField(source="reviewer__username")
    active = serializers.BooleanField(source="reviewer__is_active")
    total = serializers.IntegerField()
    decided = serializers.IntegerField()
    undecided = serializers.IntegerField()
    flagged = serializers.IntegerField()
    percent = serializers.IntegerField()


class CampaignDetailSerializer(_CampaignBase):
    sees_all = serializers.BooleanField(read_only=True, help_text="False: you review items here and see only yours.")
    reviews = serializers.BooleanField(read_only=True, help_text="You have items to review in this campaign.")
    decision_counts = serializers.DictField(
        child=serializers.IntegerField(),
        read_only=True,
        allow_null=True,
        help_text="undecided, keep, revoke, rotate (for those who see the whole campaign).",
    )
    progress = ReviewerProgressSerializer(
        many=True, read_only=True, allow_null=True, help_text="Per reviewer (for those who see the whole campaign)."
    )

    class Meta:
        model = Campaign
        fields = CAMPAIGN_FIELDS + ["sees_all", "reviews", "decision_counts", "progress"]
        read_only_fields = fields


class ReviewItemSerializer(serializers.ModelSerializer):
    facts = JSON_OBJECT
    reviewer = username("reviewer")
    decided_by = username("decided_by")
    is_own = serializers.BooleanField(read_only=True, help_text="About your own identity: you may not decide it.")

    class Meta:
        model = ReviewItem
        fields = [
            "id",
            "campaign",
            "source",
            "credential",
            "identity",
            "subject",
            "facts",
            "reviewer",
            "assigned_by_rule",
            "decision",
            "justification",
            "decided_at",
            "decided_by",
            "flagged",
            "is_own",
        ]
        read_only_fields = fields


class CampaignScopeSerializer(serializers.Serializer):
    source_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, default=list, max_length=1000, help_text="Empty: every enabled source."
    )
    credential_types = serializers.ListField(
        child=serializers.CharField(max_length=40), required=False, default=list, max_length=20, help_text="Empty: every type."
    )
    privileged_only = serializers.BooleanField(required=False, default=False)
    non_human_only = serializers.BooleanField(required=False, default=False)
    tag = TagSerializer(required=False)


class CampaignCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    scope = CampaignScopeSerializer(required=False, default=dict)
    due_date = serializers.DateField()
    fallback_reviewer = SlugField(
        slug_field="username",
        queryset=User.objects.filter(is_active=True),
        help_text="Reviews items whose owner is unknown, or who would review their own identity.",
    )
    justification_rule = serializers.ChoiceField(choices=JustificationRule.choices, default=JustificationRule.ALL)
    undecided_rule = serializers.ChoiceField(choices=UndecidedRule.choices, default=UndecidedRule.KEEP_FLAG)


class ItemsDecideSerializer(serializers.Serializer):
    items = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        min_length=1,
        max_length=5000,
        help_text="Item ids; the whole batch is refused if any is not yours to decide.",
    )
    decision = serializers.ChoiceField(choices=ReviewItem.Decision.choices)
    justification = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")


class ItemDecideSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=ReviewItem.Decision.choices)
    justification = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")


class ItemsDelegateSerializer(serializers.Serializer):
    items = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=2**63 - 1), min_length=1, max_length=5000)
    to_reviewer = SlugField(slug_field="username", queryset=User.objects.filter(is_active=True))
    note = serializers.CharField(max_length=2000)


class ItemsReassignSerializer(serializers.Serializer):
    items = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        required=False,
        max_length=5000,
        help_text="Omitted: every undecided item (of from_reviewer, when given).",
    )
    from_reviewer = SlugField(slug_field="username", queryset=User.objects.all(), required=False)
    to_reviewer = SlugField(slug_field="username", queryset=User.objects.filter(is_active=True))
    note = serializers.CharField(max_length=2000)


class CountSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="How many items the service changed.")


class RemediationEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = RemediationEvent
        fields = ["at", "state", "run", "note"]
        read_only_fields = fields


class RemediationSerializer(serializers.ModelSerializer):
    owner = username("owner")
    credential_name = serializers.CharField(source="credential.name", read_only=True)
    subject = serializers.CharField(source="item.subject", read_only=True)
    events = RemediationEventSerializer(many=True, read_only=True)

    class Meta:
        model = Remediation
        fields = [
            "id",
            "item",
            "subject",
            "credential",
            "credential_name",
            "action",
            "owner",
            "due_date",
            "state",
            "decided_at",
            "verified_at",
            "verified_by_run",
            "events",
        ]
        read_only_fields = fields
