"""Reads for the webhook pages and the API."""

from __future__ import annotations

from django.db.models import Count, Max, Q, QuerySet

from apps.notifications.models import WebhookDelivery, WebhookEndpoint


def endpoint_list() -> QuerySet[WebhookEndpoint]:
    """Every endpoint with its delivery counts by outcome and its last attempt."""
    return (
        WebhookEndpoint.objects.select_related("created_by")
        .annotate(
            delivered=Count("deliveries", filter=Q(deliveries__state=WebhookDelivery.State.SUCCEEDED)),
            failing=Count("deliveries", filter=Q(deliveries__state__in=[WebhookDelivery.State.RETRYING, WebhookDelivery.State.FAILED])),
            last_attempt_at=Max("deliveries__last_attempt_at"),
        )
        .order_by("name", "id")
    )  # an aggregate drops Meta.ordering


def delivery_list(*, endpoint: WebhookEndpoint, state: str = "", event: str = "") -> QuerySet[WebhookDelivery]:
    """The endpoint's delivery log, newest first, filtered by outcome and event."""
    deliveries = endpoint.deliveries.all()
    if state in WebhookDelivery.State.values:
        deliveries = deliveries.filter(state=state)
    if event:
        deliveries = deliveries.filter(event=event)
    return deliveries.order_by("-created_at", "-id")
