"""Outbound webhook endpoints, through the same selectors and services as their pages: seeing
them takes ``notifications.view_webhookendpoint``, changing them ``manage_webhookendpoint``
(both the GRC lead's)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status as http
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.api.serializers.webhooks import (
    WebhookDeliverySerializer,
    WebhookEndpointIssuedSerializer,
    WebhookEndpointSerializer,
    WebhookEndpointWriteSerializer,
)
from apps.api.views._common import ID, get_or_404, paginated, query_filters, text_param, validated
from apps.audit.access import require
from apps.notifications import selectors, services
from apps.notifications.models import WebhookDelivery, WebhookEndpoint
from apps.notifications.notices import EVENTS

VIEW = "notifications.view_webhookendpoint"
MANAGE = services.MANAGE


def _issued(issued: services.Issued) -> dict:
    return {**WebhookEndpointSerializer(issued.endpoint).data, "secret": issued.secret}


class WebhookEndpointViewSet(viewsets.GenericViewSet):
    """Endpoints that receive keytrail's events as signed JSON (docs/notifications.md). The
    signing secret is in the answer to create and rotate-secret only."""

    lookup_value_regex = r"\d+"

    def _endpoint(self, request, pk, *, manage: bool = False) -> WebhookEndpoint:
        require(request, VIEW, hide=True)
        endpoint = get_or_404(WebhookEndpoint.objects.get, pk=int(pk))
        if manage:
            require(request, MANAGE)
        return endpoint

    @extend_schema(responses=WebhookEndpointSerializer(many=True))
    def list(self, request):
        require(request, VIEW)
        return paginated(self, selectors.endpoint_list(), WebhookEndpointSerializer)

    @extend_schema(request=WebhookEndpointWriteSerializer, responses={201: WebhookEndpointIssuedSerializer})
    def create(self, request):
        require(request, MANAGE)
        data = validated(WebhookEndpointWriteSerializer, request)
        data.pop("active", None)
        issued = services.endpoint_create(actor=request.user, **data)
        return Response(_issued(issued), status=http.HTTP_201_CREATED, headers={"Cache-Control": "no-store"})

    @extend_schema(parameters=[ID], responses=WebhookEndpointSerializer)
    def retrieve(self, request, pk=None):
        return Response(WebhookEndpointSerializer(self._endpoint(request, pk)).data)

    @extend_schema(parameters=[ID], request=WebhookEndpointWriteSerializer(partial=True), responses=WebhookEndpointSerializer)
    def partial_update(self, request, pk=None):
        endpoint = self._endpoint(request, pk, manage=True)
        endpoint = services.endpoint_update(
            actor=request.user, endpoint=endpoint, **validated(WebhookEndpointWriteSerializer, request, partial=True)
        )
        return Response(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(parameters=[ID], request=None, responses=WebhookEndpointIssuedSerializer)
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        issued = services.endpoint_rotate_secret(actor=request.user, endpoint=self._endpoint(request, pk, manage=True))
        return Response(_issued(issued), headers={"Cache-Control": "no-store"})

    @extend_schema(
        parameters=[
            ID,
            text_param("state", "The delivery's outcome.", WebhookDelivery.State.values),
            text_param("event", "The event's name.", [*EVENTS]),
        ],
        responses=WebhookDeliverySerializer(many=True),
    )
    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None):
        endpoint = self._endpoint(request, pk)
        return paginated(
            self, selectors.delivery_list(endpoint=endpoint, **query_filters(request, ("state", "event"))), WebhookDeliverySerializer
        )
