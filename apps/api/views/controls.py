"""The control register: controls you may view; creating takes ``controls.add_control``,
changing ``controls.change_control`` on the control."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status as http
from rest_framework import viewsets
from rest_framework.response import Response

from apps.api.serializers.controls import ControlDetailSerializer, ControlSerializer, ControlWriteSerializer
from apps.api.views._common import ID, get_or_404, paginated, query_filters, text_param, validated
from apps.audit.access import require, require_object
from apps.controls import selectors as control_selectors
from apps.controls import services as control_services
from apps.controls.models import Control


class ControlViewSet(viewsets.GenericViewSet):
    """The control register: controls you may view; creating takes ``controls.add_control``,
    changing ``controls.change_control`` on the control (its owner holds it)."""

    lookup_value_regex = r"\d+"

    def _control(self, request, pk, action_perm=None) -> Control:
        control = get_or_404(control_selectors.control_get, pk=int(pk))
        require_object(request, control, "controls.view_control", action_perm)
        return control

    @extend_schema(
        parameters=[
            text_param("status", "Implementation status.", Control.Status.values),
            text_param("requirement", "A catalog sub-requirement's ref."),
            text_param("owner", "The owner's username."),
            text_param("q", "Text in the ref, title or narrative."),
        ],
        responses=ControlSerializer(many=True),
    )
    def list(self, request):
        qs = control_selectors.control_list(user=request.user, **query_filters(request, ("status", "requirement", "owner", "q")))
        return paginated(self, qs, ControlSerializer)

    @extend_schema(parameters=[ID], responses=ControlDetailSerializer)
    def retrieve(self, request, pk=None):
        return Response(ControlDetailSerializer(self._control(request, pk)).data)

    @extend_schema(request=ControlWriteSerializer, responses={201: ControlDetailSerializer})
    def create(self, request):
        require(request, "controls.add_control")
        control = control_services.control_create(actor=request.user, **validated(ControlWriteSerializer, request))
        return Response(ControlDetailSerializer(control_selectors.control_get(pk=control.pk)).data, status=http.HTTP_201_CREATED)

    @extend_schema(parameters=[ID], request=ControlWriteSerializer(partial=True), responses=ControlDetailSerializer)
    def partial_update(self, request, pk=None):
        control = self._control(request, pk, "controls.change_control")
        control_services.control_update(actor=request.user, control=control, **validated(ControlWriteSerializer, request, partial=True))
        return Response(ControlDetailSerializer(control_selectors.control_get(pk=control.pk)).data)
