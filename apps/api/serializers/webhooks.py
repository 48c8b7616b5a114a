"""Webhook endpoints and their delivery logs (the GRC lead's)."""

from __future__ import annotations

from rest_framework import serializers

from apps.api.serializers._common import JSON_OBJECT, username
from apps.notifications.models import WebhookDelivery, WebhookEndpoint
from apps.notifications.notices import EVENTS


class WebhookEndpointSerializer(serializers.ModelSerializer):
    created_by = username("created_by")
    events = serializers.ListField(child=serializers.ChoiceField(choices=list(EVENTS)), read_only=True)

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "name", "url", "events", "secret_hint", "active", "created_by", "created_at", "updated_at"]
        read_only_fields = fields


class WebhookEndpointIssuedSerializer(WebhookEndpointSerializer):
    """An endpoint with its signing secret: answered once, when it is made or rotated."""

    secret = serializers.CharField(read_only=True)

    class Meta(WebhookEndpointSerializer.Meta):
        fields = WebhookEndpointSerializer.Meta.fields + ["secret"]
        read_only_fields = fields


class WebhookEndpointWriteSerializer(serializers.Serializer):
    # The address is checked by the service (scheme, public host), which says why it refuses one.
    name = serializers.CharField(max_length=100)
    url = serializers.CharField(max_length=500)
    events = serializers.ListField(child=serializers.ChoiceField(choices=list(EVENTS)), allow_empty=False, max_length=len(EVENTS))
    active = serializers.BooleanField(required=False)


class WebhookDeliverySerializer(serializers.ModelSerializer):
    payload = JSON_OBJECT

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event",
            "event_id",
            "state",
            "attempts",
            "response_status",
            "error",
            "created_at",
            "last_attempt_at",
            "next_attempt_at",
            "delivered_at",
            "payload",
        ]
        read_only_fields = fields
