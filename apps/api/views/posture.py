"""The posture (each catalog sub-requirement's status in the latest evaluation), findings and
evaluations: ``evaluation.view_evaluation``; starting an evaluation ``evaluation.run_evaluation``."""

from __future__ import annotations

from django.http import Http404
from django.urls import reverse
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status as http
from rest_framework import viewsets
from rest_framework.response import Response

from apps.api.serializers.posture import EvaluationSerializer, FindingSerializer, PostureSerializer, RequirementStatusSerializer
from apps.api.views._common import ID, SOURCE_FILTER, get_or_404, paginated, query_filters, text_param, whole_number
from apps.audit.access import require
from apps.catalog.selectors import requirement_get
from apps.evaluation import selectors as posture
from apps.evaluation.models import RequirementStatus
from apps.evaluation.services import evaluation_request
from apps.inventory.models import Credential

VIEW_EVALUATION = "evaluation.view_evaluation"


def _with_shown_status(rows):
    for row in rows:
        row.shown_status = posture.display_status(row.status, row.rule_ids)
    return rows


class OneObjectSchema(AutoSchema):
    """The posture "list" answers one object (the evaluation and every requirement's status), not a page."""

    def _is_list_view(self, serializer=None) -> bool:
        return False

    def get_operation_id(self) -> str:
        return "posture_requirements_list" if getattr(self.view, "action", "") == "list" else super().get_operation_id()


class PostureViewSet(viewsets.GenericViewSet):
    """The latest succeeded evaluation's status per catalog sub-requirement (``evaluation.view_evaluation``)."""

    schema = OneObjectSchema()
    lookup_field = "ref"
    lookup_value_regex = r"[\w.-]+"
    pagination_class = None

    @extend_schema(responses=PostureSerializer)
    def list(self, request):
        require(request, VIEW_EVALUATION)
        evaluation = posture.latest_evaluation()
        rows = []
        if evaluation is not None:
            rows = _with_shown_status(
                RequirementStatus.objects.filter(evaluation=evaluation)
                .select_related("requirement__clause")
                .order_by("requirement__position")
            )
        return Response(
            {
                "evaluation": EvaluationSerializer(evaluation).data if evaluation else None,
                "requirements": RequirementStatusSerializer(rows, many=True).data,
            }
        )

    @extend_schema(parameters=[OpenApiParameter("ref", OpenApiTypes.STR, OpenApiParameter.PATH)], responses=RequirementStatusSerializer)
    def retrieve(self, request, ref=None):
        require(request, VIEW_EVALUATION)
        requirement = get_or_404(requirement_get, ref=ref)
        status = posture.requirement_status_in(evaluation=posture.latest_evaluation(), requirement=requirement)
        if status is None:
            raise Http404("No evaluation has judged this requirement yet.")
        return Response(RequirementStatusSerializer(_with_shown_status([status])[0]).data)


class FindingViewSet(viewsets.GenericViewSet):
    """Findings (fail, excepted, not assessed) about the sources you may view; the latest
    succeeded evaluation unless ``evaluation`` names another."""

    @extend_schema(
        parameters=[
            text_param("rule", "A rule id."),
            text_param("requirement", "A catalog sub-requirement's ref: the findings of its rules."),
            text_param("status", "fail, excepted or not_assessed.", [str(x) for x in posture.FINDING_STATUSES]),
            text_param("severity", "The rule's severity."),
            SOURCE_FILTER,
            OpenApiParameter("credential", OpenApiTypes.INT, OpenApiParameter.QUERY, required=False, description="A credential's id."),
            OpenApiParameter("identity", OpenApiTypes.INT, OpenApiParameter.QUERY, required=False, description="An identity's id."),
            OpenApiParameter("evaluation", OpenApiTypes.INT, OpenApiParameter.QUERY, required=False, description="An evaluation's id."),
            text_param("q", "Text in the subject's label."),
        ],
        responses=FindingSerializer(many=True),
    )
    def list(self, request):
        require(request, VIEW_EVALUATION)
        params = query_filters(
            request, ("rule", "requirement", "status", "severity", "source", "credential", "identity", "evaluation", "q")
        )
        if params["evaluation"]:
            evaluation = get_or_404(posture.evaluation_get, pk=whole_number(params["evaluation"], "evaluation"))
        else:
            evaluation = posture.latest_evaluation()
        if evaluation is None:
            return paginated(self, Credential.objects.none(), FindingSerializer)
        rule_ids = None
        if params["requirement"]:
            requirement = get_or_404(requirement_get, ref=params["requirement"])
            status = posture.requirement_status_in(evaluation=evaluation, requirement=requirement)
            rule_ids = posture.requirement_rule_ids(requirement=requirement, status=status)
        qs = posture.finding_list(
            user=request.user,
            evaluation=evaluation,
            rule_ids=rule_ids,
            rule=params["rule"],
            status=params["status"],
            severity=params["severity"],
            source=params["source"],
            q=params["q"],
        )
        if params["credential"]:
            qs = qs.filter(credential_id=whole_number(params["credential"], "credential"))
        if params["identity"]:
            qs = qs.filter(identity_id=whole_number(params["identity"], "identity"))
        return paginated(self, qs, FindingSerializer)


class EvaluationViewSet(viewsets.GenericViewSet):
    """Evaluations, newest first (``evaluation.view_evaluation``); starting one takes ``evaluation.run_evaluation``."""

    lookup_value_regex = r"\d+"

    @extend_schema(responses=EvaluationSerializer(many=True))
    def list(self, request):
        require(request, VIEW_EVALUATION)
        return paginated(self, posture.evaluation_list(), EvaluationSerializer)

    @extend_schema(parameters=[ID], responses=EvaluationSerializer)
    def retrieve(self, request, pk=None):
        require(request, VIEW_EVALUATION)
        return Response(EvaluationSerializer(get_or_404(posture.evaluation_get, pk=int(pk))).data)

    @extend_schema(request=None, responses={202: EvaluationSerializer})
    def create(self, request):
        """Queue an evaluation of the present inventory; answers 202 at once with the evaluation as
        it is now (``running`` with progress phase ``queued`` until a worker takes it up) and the
        URL to poll (``progress_url``, also in ``Location``)."""
        require(request, "evaluation.run_evaluation")
        evaluation = evaluation_request(actor=request.user)
        url = reverse("api:evaluation-detail", args=[evaluation.pk])
        data = {**EvaluationSerializer(evaluation).data, "progress_url": url}
        return Response(data, status=http.HTTP_202_ACCEPTED, headers={"Location": url})
