"""The REST API's endpoints. Each is an interface like a UI view: check the same permission
the UI checks (``apps.audit.access``: 404 when the object is hidden, 403 when it is visible but
the action is not allowed, both recorded), read through the same selectors, change through the
same service — never a second path around the rules."""

from __future__ import annotations

from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers as drf_serializers
from rest_framework import status as http
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.core.permissions import has_perm, objects_for
from apps.api import serializers as s
from apps.controls import selectors as control_selectors
from apps.controls import services as control_services
from apps.controls.models import Control
from apps.audit.access import deny, require, require_object
from apps.evaluation import selectors as posture
from apps.evaluation.models import RequirementStatus
from apps.evaluation.services import evaluation_run
from apps.exceptions_register import selectors as exception_selectors
from apps.exceptions_register import services as exception_services
from apps.exceptions_register.models import ExceptionRequest
from apps.inventory import selectors as inventory
from apps.inventory.models import CollectionRun, CollectionUnit, Credential, Identity, Source
from apps.inventory.services.collection import collection_retry, collection_start
from apps.inventory.services.sources import source_create, source_update

VIEW_SOURCE = "inventory.view_source"
VIEW_EVALUATION = "evaluation.view_evaluation"
VIEW_EXCEPTION = exception_selectors.VIEW
DECIDE = exception_selectors.DECIDE
REQUEST = "exceptions_register.request_exception"
REVOKE = "exceptions_register.revoke_exception"


def _get(getter, **lookup):
    try:
        return getter(**lookup)
    except (ObjectDoesNotExist, ValueError):
        raise Http404("Not found") from None


def _query(request, names) -> dict[str, str]:
    """The filters of a list, as the UI reads them (trimmed, at most 100 characters); 400 for
    text no filter can hold (a NUL character)."""
    values = {name: str(request.query_params.get(name, "")).strip()[:100] for name in names}
    bad = sorted(name for name, value in values.items() if "\x00" in value)
    if bad:
        raise drf_serializers.ValidationError({name: "A filter cannot contain a NUL character." for name in bad})
    return values


def _text(name: str, description: str, enum=None) -> OpenApiParameter:
    return OpenApiParameter(name, OpenApiTypes.STR, OpenApiParameter.QUERY, required=False, description=description, enum=enum)


def _paginated(view, queryset, serializer_class):
    page = view.paginate_queryset(queryset)
    return view.get_paginated_response(serializer_class(page, many=True, context={"request": view.request}).data)


ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH)


# --- sources -----------------------------------------------------------------------------------

class SourceViewSet(viewsets.GenericViewSet):
    """Sources narrowed to those you may view; registering one takes ``inventory.add_source``,
    changing one ``inventory.change_source`` on it, collecting ``inventory.run_collection``."""

    lookup_value_regex = r"\d+"

    def _source(self, request, pk, action_perm=None) -> Source:
        source = _get(inventory.source_get, pk=int(pk))
        require_object(request, source, VIEW_SOURCE, action_perm)
        return source

    def _annotated(self, request, source) -> Source:
        return inventory.source_list(user=request.user).get(pk=source.pk)

    @extend_schema(responses=s.SourceSerializer(many=True))
    def list(self, request):
        return _paginated(self, inventory.source_list(user=request.user), s.SourceSerializer)

    @extend_schema(parameters=[ID], responses=s.SourceSerializer)
    def retrieve(self, request, pk=None):
        source = self._source(request, pk)
        return Response(s.SourceSerializer(self._annotated(request, source)).data)

    @extend_schema(request=s.SourceCreateSerializer, responses={201: s.SourceSerializer})
    def create(self, request):
        require(request, "inventory.add_source")
        data = _valid(s.SourceCreateSerializer, request)
        source = source_create(actor=request.user, **data)
        return Response(s.SourceSerializer(self._annotated(request, source)).data, status=http.HTTP_201_CREATED)

    @extend_schema(parameters=[ID], request=s.SourceUpdateSerializer, responses=s.SourceSerializer)
    def partial_update(self, request, pk=None):
        source = self._source(request, pk, "inventory.change_source")
        data = _valid(s.SourceUpdateSerializer, request)
        source = source_update(actor=request.user, source=source, **data)
        return Response(s.SourceSerializer(self._annotated(request, source)).data)

    @extend_schema(parameters=[ID], request=None, responses={201: s.RunDetailSerializer})
    @action(detail=True, methods=["post"])
    def collect(self, request, pk=None):
        """Start a collection run of this source (its status and progress: ``GET /runs/{id}/``)."""
        source = self._source(request, pk, "inventory.run_collection")
        run = collection_start(actor=request.user, sources=[source])
        return Response(_run_detail(request, run), status=http.HTTP_201_CREATED)


def _valid(serializer_class, request, *, partial: bool = False) -> dict:
    serializer = serializer_class(data=request.data, partial=partial, context={"request": request})
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


# --- collection runs ---------------------------------------------------------------------------

def _run_detail(request, run: CollectionRun) -> dict:
    """The run as ``request.user`` may see it (only the units of sources they view); 404 if none."""
    units = inventory.run_units(run=run, user=request.user)
    if not units:
        deny(request, VIEW_SOURCE, run, hide=True)
    run.units_seen = units
    run.progress = inventory.run_progress(units)
    data = s.RunDetailSerializer(run).data
    data["units"] = s.UnitSerializer(units, many=True).data
    return data


class RunViewSet(viewsets.GenericViewSet):
    """Collection runs with at least one unit of a source you may view."""

    lookup_value_regex = r"\d+"

    @extend_schema(responses=s.RunSerializer(many=True))
    def list(self, request):
        return _paginated(self, inventory.run_list(user=request.user), s.RunSerializer)

    @extend_schema(parameters=[ID], responses=s.RunDetailSerializer)
    def retrieve(self, request, pk=None):
        """Status, progress (units finished of all) and the units you may see, with their errors."""
        return Response(_run_detail(request, _get(inventory.run_get, pk=int(pk))))

    @extend_schema(request=s.RunStartSerializer, responses={201: s.RunDetailSerializer})
    def create(self, request):
        """Start a run of the given sources, or of every enabled source you may collect."""
        data = _valid(s.RunStartSerializer, request)
        ids = list(dict.fromkeys(data.get("source_ids") or []))
        if ids:
            sources = []
            for pk in ids:
                source = _get(inventory.source_get, pk=pk)
                require_object(request, source, VIEW_SOURCE, "inventory.run_collection")
                sources.append(source)
        else:
            allowed = objects_for(request.user, "inventory.run_collection", Source.objects.all())
            if not has_perm(request.user, "inventory.run_collection") and not allowed.exists():
                deny(request, "inventory.run_collection")
            sources = list(allowed.filter(enabled=True))
        run = collection_start(actor=request.user, sources=sources)
        return Response(_run_detail(request, run), status=http.HTTP_201_CREATED)

    @extend_schema(parameters=[ID], request=None, responses={201: s.RunDetailSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        """Start a new run of this run's failed units."""
        run = _get(inventory.run_get, pk=int(pk))
        units = inventory.run_units(run=run, user=request.user)
        if not units:
            deny(request, VIEW_SOURCE, run, hide=True)
        sources = {u.source for u in units if u.status == CollectionUnit.Status.FAILED} or {u.source for u in units}
        for source in sorted(sources, key=lambda x: x.pk):
            require(request, "inventory.run_collection", source)
        retry = collection_retry(actor=request.user, run=run)
        return Response(_run_detail(request, retry), status=http.HTTP_201_CREATED)


# --- inventory ---------------------------------------------------------------------------------

SOURCE_FILTER = _text("source", "A source's id.")
PRESENCE = _text("presence", "present: still in the cloud; disappeared: gone since.", ["present", "disappeared"])
OWNER = _text("owner", "set: has an owner tag; missing: has none.", ["set", "missing"])
Q_FILTER = _text("q", "Text in the name or the cloud id.")


class _CollectedViewSet(viewsets.GenericViewSet):
    """Objects collected from a source: visible to those who may view that source (404 otherwise)."""

    lookup_value_regex = r"\d+"
    getter = None  # the selector that loads one object by ``pk``

    def _collected(self, request, pk):
        obj = _get(type(self).getter, pk=int(pk))
        require_object(request, obj.source, VIEW_SOURCE)
        return obj


class CredentialViewSet(_CollectedViewSet):
    """Credentials (metadata only) of the sources you may view."""

    getter = staticmethod(inventory.credential_get)
    FILTERS = ("credential_type", "source", "presence", "enabled", "owner", "q")

    @extend_schema(parameters=[_text("credential_type", "The credential's type.", Credential.Type.values), SOURCE_FILTER, PRESENCE,
                               _text("enabled", "yes, no or unknown.", ["yes", "no", "unknown"]), OWNER, Q_FILTER],
                   responses=s.CredentialSerializer(many=True))
    def list(self, request):
        return _paginated(self, inventory.credential_list(user=request.user, **_query(request, self.FILTERS)), s.CredentialSerializer)

    @extend_schema(parameters=[ID], responses=s.CredentialDetailSerializer)
    def retrieve(self, request, pk=None):
        return Response(s.CredentialDetailSerializer(self._collected(request, pk)).data)

    @extend_schema(parameters=[ID], responses=s.VersionSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def versions(self, request, pk=None):
        """The credential's metadata as it stood over time, oldest first, with what changed."""
        credential = self._collected(request, pk)
        return Response(s.VersionSerializer(inventory.credential_versions(credential=credential), many=True).data)

    @extend_schema(parameters=[ID], responses=s.CredentialEventSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def events(self, request, pk=None):
        """What collections observed: appeared, rotated, deactivated, disappeared..."""
        credential = self._collected(request, pk)
        return Response(s.CredentialEventSerializer(inventory.credential_events(credential=credential), many=True).data)


class IdentityViewSet(_CollectedViewSet):
    """Identities (IAM users, root) of the sources you may view."""

    getter = staticmethod(inventory.identity_get)
    FILTERS = ("kind", "source", "privileged", "mfa", "owner", "presence", "q")

    @extend_schema(parameters=[_text("kind", "The identity's kind.", Identity.Kind.values), SOURCE_FILTER,
                               _text("privileged", "yes or no.", ["yes", "no"]), _text("mfa", "yes or no.", ["yes", "no"]),
                               OWNER, PRESENCE, Q_FILTER],
                   responses=s.IdentitySerializer(many=True))
    def list(self, request):
        return _paginated(self, inventory.identity_list(user=request.user, **_query(request, self.FILTERS)), s.IdentitySerializer)

    @extend_schema(parameters=[ID], responses=s.IdentityDetailSerializer)
    def retrieve(self, request, pk=None):
        return Response(s.IdentityDetailSerializer(self._collected(request, pk)).data)

    @extend_schema(parameters=[ID], responses=s.VersionSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def versions(self, request, pk=None):
        identity = self._collected(request, pk)
        return Response(s.VersionSerializer(inventory.identity_versions(identity=identity), many=True).data)


# --- evaluation --------------------------------------------------------------------------------

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

    @extend_schema(responses=s.PostureSerializer)
    def list(self, request):
        require(request, VIEW_EVALUATION)
        evaluation = posture.latest_evaluation()
        rows = []
        if evaluation is not None:
            rows = _with_shown_status(RequirementStatus.objects.filter(evaluation=evaluation)
                                      .select_related("requirement__clause").order_by("requirement__position"))
        return Response({"evaluation": s.EvaluationSerializer(evaluation).data if evaluation else None,
                         "requirements": s.RequirementStatusSerializer(rows, many=True).data})

    @extend_schema(parameters=[OpenApiParameter("ref", OpenApiTypes.STR, OpenApiParameter.PATH)], responses=s.RequirementStatusSerializer)
    def retrieve(self, request, ref=None):
        require(request, VIEW_EVALUATION)
        from apps.catalog.selectors import requirement_get

        requirement = _get(requirement_get, ref=ref)
        status = posture.requirement_status_in(evaluation=posture.latest_evaluation(), requirement=requirement)
        if status is None:
            raise Http404("No evaluation has judged this requirement yet.")
        return Response(s.RequirementStatusSerializer(_with_shown_status([status])[0]).data)


class FindingViewSet(viewsets.GenericViewSet):
    """Findings (fail, excepted, not assessed) about the sources you may view; the latest
    succeeded evaluation unless ``evaluation`` names another."""

    @extend_schema(parameters=[
        _text("rule", "A rule id."), _text("requirement", "A catalog sub-requirement's ref: the findings of its rules."),
        _text("status", "fail, excepted or not_assessed.", [str(x) for x in posture.FINDING_STATUSES]),
        _text("severity", "The rule's severity."), SOURCE_FILTER,
        OpenApiParameter("credential", OpenApiTypes.INT, OpenApiParameter.QUERY, required=False, description="A credential's id."),
        OpenApiParameter("identity", OpenApiTypes.INT, OpenApiParameter.QUERY, required=False, description="An identity's id."),
        OpenApiParameter("evaluation", OpenApiTypes.INT, OpenApiParameter.QUERY, required=False, description="An evaluation's id."),
        _text("q", "Text in the subject's label."),
    ], responses=s.FindingSerializer(many=True))
    def list(self, request):
        require(request, VIEW_EVALUATION)
        params = _query(request, ("rule", "requirement", "status", "severity", "source", "credential", "identity", "evaluation", "q"))
        if params["evaluation"]:
            evaluation = _get(posture.evaluation_get, pk=_int(params["evaluation"], "evaluation"))
        else:
            evaluation = posture.latest_evaluation()
        if evaluation is None:
            return _paginated(self, Credential.objects.none(), s.FindingSerializer)
        rule_ids = None
        if params["requirement"]:
            from apps.catalog.selectors import requirement_get

            requirement = _get(requirement_get, ref=params["requirement"])
            status = posture.requirement_status_in(evaluation=evaluation, requirement=requirement)
            rule_ids = posture.requirement_rule_ids(requirement=requirement, status=status)
        qs = posture.finding_list(user=request.user, evaluation=evaluation, rule_ids=rule_ids, rule=params["rule"],
                                  status=params["status"], severity=params["severity"], source=params["source"], q=params["q"])
        if params["credential"]:
            qs = qs.filter(credential_id=_int(params["credential"], "credential"))
        if params["identity"]:
            qs = qs.filter(identity_id=_int(params["identity"], "identity"))
        return _paginated(self, qs, s.FindingSerializer)


@csrf_exempt  # answers every method with 404 and changes nothing: no CSRF page in its place
def not_found(request, path: str = ""):
    """Any other path under /api/v1/: a JSON 404 like every API answer (not the UI's HTML page)."""
    from django.http import JsonResponse

    return JsonResponse({"detail": "Not found."}, status=404)


def _int(value: str, name: str) -> int:
    if not value.isdigit() or len(value) > 18:
        raise drf_serializers.ValidationError({name: "Give a whole number (an id)."})
    return int(value)


class EvaluationViewSet(viewsets.GenericViewSet):
    """Evaluations, newest first (``evaluation.view_evaluation``); starting one takes ``evaluation.run_evaluation``."""

    lookup_value_regex = r"\d+"

    @extend_schema(responses=s.EvaluationSerializer(many=True))
    def list(self, request):
        require(request, VIEW_EVALUATION)
        return _paginated(self, posture.evaluation_list(), s.EvaluationSerializer)

    @extend_schema(parameters=[ID], responses=s.EvaluationSerializer)
    def retrieve(self, request, pk=None):
        require(request, VIEW_EVALUATION)
        return Response(s.EvaluationSerializer(_get(posture.evaluation_get, pk=int(pk))).data)

    @extend_schema(request=None, responses={201: s.EvaluationSerializer})
    def create(self, request):
        """Judge the present inventory now (synchronously) and return the evaluation."""
        require(request, "evaluation.run_evaluation")
        try:
            evaluation = evaluation_run(actor=request.user)
        except Exception:  # noqa: BLE001 - recorded on the evaluation (state failed, error, audit event)
            evaluation = posture.latest_attempt()
        return Response(s.EvaluationSerializer(evaluation).data, status=http.HTTP_201_CREATED)


# --- controls ----------------------------------------------------------------------------------

class ControlViewSet(viewsets.GenericViewSet):
    """The control register: controls you may view; creating takes ``controls.add_control``,
    changing ``controls.change_control`` on the control (its owner holds it)."""

    lookup_value_regex = r"\d+"

    def _control(self, request, pk, action_perm=None) -> Control:
        control = _get(control_selectors.control_get, pk=int(pk))
        require_object(request, control, "controls.view_control", action_perm)
        return control

    @extend_schema(parameters=[_text("status", "Implementation status.", Control.Status.values),
                               _text("requirement", "A catalog sub-requirement's ref."), _text("owner", "The owner's username."),
                               _text("q", "Text in the ref, title or narrative.")],
                   responses=s.ControlSerializer(many=True))
    def list(self, request):
        qs = control_selectors.control_list(user=request.user, **_query(request, ("status", "requirement", "owner", "q")))
        return _paginated(self, qs, s.ControlSerializer)

    @extend_schema(parameters=[ID], responses=s.ControlDetailSerializer)
    def retrieve(self, request, pk=None):
        return Response(s.ControlDetailSerializer(self._control(request, pk)).data)

    @extend_schema(request=s.ControlWriteSerializer, responses={201: s.ControlDetailSerializer})
    def create(self, request):
        require(request, "controls.add_control")
        control = control_services.control_create(actor=request.user, **_valid(s.ControlWriteSerializer, request))
        return Response(s.ControlDetailSerializer(control_selectors.control_get(pk=control.pk)).data, status=http.HTTP_201_CREATED)

    @extend_schema(parameters=[ID], request=s.ControlWriteSerializer(partial=True), responses=s.ControlDetailSerializer)
    def partial_update(self, request, pk=None):
        control = self._control(request, pk, "controls.change_control")
        control_services.control_update(actor=request.user, control=control, **_valid(s.ControlWriteSerializer, request, partial=True))
        return Response(s.ControlDetailSerializer(control_selectors.control_get(pk=control.pk)).data)


# --- exceptions --------------------------------------------------------------------------------

class ExceptionViewSet(viewsets.GenericViewSet):
    """The exception register, narrowed to the exceptions you may view. Requesting takes
    ``request_exception``; approving and rejecting ``decide_exception`` (never for an exception
    you requested or own: the service refuses, 403); revoking ``revoke_exception``."""

    lookup_value_regex = r"\d+"
    FILTERS = ("state", "rule", "owner", "risk", "expiry", "mine")

    def _exception(self, request, pk, action_perm=None) -> ExceptionRequest:
        exception = _get(exception_selectors.exception_get, pk=int(pk))
        require_object(request, exception, VIEW_EXCEPTION, action_perm)
        return exception

    def _detail(self, exception, serializer_class=s.ExceptionDetailSerializer, **extra):
        exception = exception_selectors.exception_get(pk=exception.pk)
        exception.decision_rows = exception_selectors.exception_decisions(exception=exception)
        for key, value in extra.items():
            setattr(exception, key, value)
        return serializer_class(exception).data

    @extend_schema(parameters=[_text("state", "The exception's state.", ExceptionRequest.State.values), _text("rule", "A rule id."),
                               _text("owner", "The owner's username."), _text("risk", "Risk.", ExceptionRequest.Risk.values),
                               _text("expiry", "Ending within 7, 30 or 90 days, or expired.", ["7", "30", "90", "expired"]),
                               _text("mine", "requested or owned by you.", ["requested", "owned"])],
                   responses=s.ExceptionSerializer(many=True))
    def list(self, request):
        qs = exception_selectors.exception_list(user=request.user, **_query(request, self.FILTERS))
        return _paginated(self, qs, s.ExceptionSerializer)

    @extend_schema(parameters=[ID], responses=s.ExceptionDetailSerializer)
    def retrieve(self, request, pk=None):
        return Response(self._detail(self._exception(request, pk)))

    @extend_schema(request=s.ExceptionRequestSerializer, responses={201: s.ExceptionCreatedSerializer})
    def create(self, request):
        """Request an exception (pending approval; ``submit: false`` keeps it a draft)."""
        require(request, REQUEST)
        data = dict(_valid(s.ExceptionRequestSerializer, request))
        data["scope"] = {k: (dict(v) if k == "tag" else v) for k, v in dict(data.get("scope") or {}).items()}
        outcome = exception_services.exception_request(actor=request.user, **data)
        return Response(self._detail(outcome.exception, s.ExceptionCreatedSerializer, warnings=outcome.warnings), status=http.HTTP_201_CREATED)

    def _act(self, request, pk, action_perm, run):
        exception = self._exception(request, pk, action_perm)
        comment = _valid(s.CommentSerializer, request).get("comment", "")
        return Response(self._detail(run(exception, comment)))

    @extend_schema(parameters=[ID], request=s.CommentSerializer, responses=s.ExceptionDetailSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Approve with a comment; a high-risk exception needs a second approver."""
        return self._act(request, pk, DECIDE, lambda e, c: exception_services.exception_approve(actor=request.user, exception=e, comment=c))

    @extend_schema(parameters=[ID], request=s.CommentSerializer, responses=s.ExceptionDetailSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        return self._act(request, pk, DECIDE, lambda e, c: exception_services.exception_reject(actor=request.user, exception=e, comment=c))

    @extend_schema(parameters=[ID], request=s.CommentSerializer, responses=s.ExceptionDetailSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        """End an approved exception now, with a comment; its findings fail again at the next evaluation."""
        return self._act(request, pk, REVOKE, lambda e, c: exception_services.exception_revoke(actor=request.user, exception=e, comment=c))
