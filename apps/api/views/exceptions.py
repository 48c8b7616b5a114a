"""The exception register, through the same selectors and services as its pages."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status as http
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.api.serializers._common import CommentSerializer
from apps.api.serializers.exceptions import (
    ExceptionCreatedSerializer,
    ExceptionDetailSerializer,
    ExceptionRequestSerializer,
    ExceptionSerializer,
)
from apps.api.views._common import ID, get_or_404, paginated, query_filters, text_param, validated
from apps.audit.access import require, require_object
from apps.exceptions_register import selectors as exception_selectors
from apps.exceptions_register import services as exception_services
from apps.exceptions_register.models import ExceptionRequest

VIEW_EXCEPTION = exception_selectors.VIEW
DECIDE = exception_selectors.DECIDE
REQUEST = "exceptions_register.request_exception"
REVOKE = "exceptions_register.revoke_exception"


class ExceptionViewSet(viewsets.GenericViewSet):
    """The exception register, narrowed to the exceptions you may view. Requesting takes
    ``request_exception``; approving and rejecting ``decide_exception`` (never for an exception
    you requested or own: the service refuses, 403); revoking ``revoke_exception``."""

    lookup_value_regex = r"\d+"
    FILTERS = ("state", "rule", "owner", "risk", "expiry", "mine")

    def _exception(self, request, pk, action_perm=None) -> ExceptionRequest:
        exception = get_or_404(exception_selectors.exception_get, pk=int(pk))
        require_object(request, exception, VIEW_EXCEPTION, action_perm)
        return exception

    def _detail(self, exception, serializer_class=ExceptionDetailSerializer, **extra):
        exception = exception_selectors.exception_get(pk=exception.pk)
        exception.decision_rows = exception_selectors.exception_decisions(exception=exception)
        for key, value in extra.items():
            setattr(exception, key, value)
        return serializer_class(exception).data

    @extend_schema(
        parameters=[
            text_param("state", "The exception's state.", ExceptionRequest.State.values),
            text_param("rule", "A rule id."),
            text_param("owner", "The owner's username."),
            text_param("risk", "Risk.", ExceptionRequest.Risk.values),
            text_param("expiry", "Ending within 7, 30 or 90 days, or expired.", ["7", "30", "90", "expired"]),
            text_param("mine", "requested or owned by you.", ["requested", "owned"]),
        ],
        responses=ExceptionSerializer(many=True),
    )
    def list(self, request):
        qs = exception_selectors.exception_list(user=request.user, **query_filters(request, self.FILTERS))
        return paginated(self, qs, ExceptionSerializer)

    @extend_schema(parameters=[ID], responses=ExceptionDetailSerializer)
    def retrieve(self, request, pk=None):
        return Response(self._detail(self._exception(request, pk)))

    @extend_schema(request=ExceptionRequestSerializer, responses={201: ExceptionCreatedSerializer})
    def create(self, request):
        """Request an exception (pending approval; ``submit: false`` keeps it a draft)."""
        require(request, REQUEST)
        data = dict(validated(ExceptionRequestSerializer, request))
        data["scope"] = {k: (dict(v) if k == "tag" else v) for k, v in dict(data.get("scope") or {}).items()}
        outcome = exception_services.exception_request(actor=request.user, **data)
        return Response(
            self._detail(outcome.exception, ExceptionCreatedSerializer, warnings=outcome.warnings), status=http.HTTP_201_CREATED
        )

    def _act(self, request, pk, action_perm, run):
        exception = self._exception(request, pk, action_perm)
        comment = validated(CommentSerializer, request).get("comment", "")
        return Response(self._detail(run(exception, comment)))

    @extend_schema(parameters=[ID], request=CommentSerializer, responses=ExceptionDetailSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Approve with a comment; a high-risk exception needs a second approver."""
        return self._act(request, pk, DECIDE, lambda e, c: exception_services.exception_approve(actor=request.user, exception=e, comment=c))

    @extend_schema(parameters=[ID], request=CommentSerializer, responses=ExceptionDetailSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        return self._act(request, pk, DECIDE, lambda e, c: exception_services.exception_reject(actor=request.user, exception=e, comment=c))

    @extend_schema(parameters=[ID], request=CommentSerializer, responses=ExceptionDetailSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        """End an approved exception now, with a comment; its findings fail again at the next evaluation."""
        return self._act(request, pk, REVOKE, lambda e, c: exception_services.exception_revoke(actor=request.user, exception=e, comment=c))
