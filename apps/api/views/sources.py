"""Sources and their collection runs. Sources are narrowed to those you may view; a run is
visible through the units of sources you may view."""

from __future__ import annotations

from contextlib import contextmanager

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers as drf_serializers
from rest_framework import status as http
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.api.serializers.sources import (
    RunDetailSerializer,
    RunSerializer,
    RunStartSerializer,
    SourceCreateSerializer,
    SourceDetailSerializer,
    SourceSerializer,
    SourceUpdateSerializer,
    UnitSerializer,
)
from apps.api.views._common import ID, VIEW_SOURCE, get_or_404, paginated, validated
from apps.audit.access import deny, require, require_object
from apps.core.errors import DuplicateSource
from apps.core.permissions import has_perm, objects_for
from apps.inventory import members
from apps.inventory import selectors as inventory
from apps.inventory.models import CollectionRun, CollectionUnit, Source
from apps.inventory.services.collection import collection_retry, collection_start
from apps.inventory.services.sources import source_create, source_update


class SourceViewSet(viewsets.GenericViewSet):
    """Sources narrowed to those you may view; registering one takes ``inventory.add_source``,
    changing one ``inventory.change_source`` on it, collecting ``inventory.run_collection``."""

    lookup_value_regex = r"\d+"

    def _source(self, request, pk, action_perm=None) -> Source:
        source = get_or_404(inventory.source_get, pk=int(pk))
        require_object(request, source, VIEW_SOURCE, action_perm)
        return source

    def _annotated(self, request, source) -> Source:
        return inventory.source_list(user=request.user).get(pk=source.pk)

    @extend_schema(responses=SourceSerializer(many=True))
    def list(self, request):
        return paginated(self, inventory.source_list(user=request.user), SourceSerializer)

    @extend_schema(parameters=[ID], responses=SourceDetailSerializer)
    def retrieve(self, request, pk=None):
        source = self._source(request, pk)
        organization = members.organization_accounts(source=source, user=request.user)
        subscription = members.subscription_vaults(source=source, user=request.user)
        context = {"organization": organization, "subscription": subscription}
        return Response(SourceDetailSerializer(self._annotated(request, source), context=context).data)

    @extend_schema(request=SourceCreateSerializer, responses={201: SourceSerializer})
    def create(self, request):
        require(request, "inventory.add_source")
        data = validated(SourceCreateSerializer, request)
        with _duplicate_on_its_field():
            source = source_create(actor=request.user, **data)
        return Response(SourceSerializer(self._annotated(request, source)).data, status=http.HTTP_201_CREATED)

    @extend_schema(parameters=[ID], request=SourceUpdateSerializer, responses=SourceSerializer)
    def partial_update(self, request, pk=None):
        source = self._source(request, pk, "inventory.change_source")
        data = validated(SourceUpdateSerializer, request)
        with _duplicate_on_its_field():
            source = source_update(actor=request.user, source=source, **data)
        return Response(SourceSerializer(self._annotated(request, source)).data)

    @extend_schema(parameters=[ID], request=None, responses={202: RunDetailSerializer})
    @action(detail=True, methods=["post"])
    def collect(self, request, pk=None):
        """Start a collection run of this source (its status and progress: ``GET /runs/{id}/``)."""
        source = self._source(request, pk, "inventory.run_collection")
        run = collection_start(actor=request.user, sources=[source])
        return _accepted(request, run)


@contextmanager
def _duplicate_on_its_field():
    """A source already registered for the same account or vault: 400 naming it on the
    setting the key comes from (``{"role_arn": ["Role ARN: AWS account ... 'prod'."]}``)."""
    try:
        yield
    except DuplicateSource as exc:
        raise drf_serializers.ValidationError({exc.field or "detail": [f"Nothing was changed: {exc}"]}) from exc


def _run_detail(request, run: CollectionRun) -> dict:
    """The run as ``request.user`` may see it (only the units of sources they view); 404 if none."""
    units = inventory.run_units(run=run, user=request.user)
    if not units:
        deny(request, VIEW_SOURCE, run, hide=True)
    run.units_seen = units
    run.progress = inventory.run_progress(units)
    data = RunDetailSerializer(run).data
    data["units"] = UnitSerializer(units, many=True).data
    return data


def _accepted(request, run: CollectionRun) -> Response:
    """202: the run is queued for the workers; its state as it is now (re-read, never a stale
    "pending" for a run already finished), and the URL to poll (also in ``Location``)."""
    run.refresh_from_db()
    url = reverse("api:run-detail", args=[run.pk])
    data = _run_detail(request, run)
    data["progress_url"] = url
    return Response(data, status=http.HTTP_202_ACCEPTED, headers={"Location": url})


class RunViewSet(viewsets.GenericViewSet):
    """Collection runs with at least one unit of a source you may view."""

    lookup_value_regex = r"\d+"

    @extend_schema(responses=RunSerializer(many=True))
    def list(self, request):
        return paginated(self, inventory.run_list(user=request.user), RunSerializer)

    @extend_schema(parameters=[ID], responses=RunDetailSerializer)
    def retrieve(self, request, pk=None):
        """Status, progress (units finished of all) and the units you may see, with their errors."""
        return Response(_run_detail(request, get_or_404(inventory.run_get, pk=int(pk))))

    @extend_schema(request=RunStartSerializer, responses={202: RunDetailSerializer})
    def create(self, request):
        """Start a run of the given sources, or of every enabled source you may collect."""
        data = validated(RunStartSerializer, request)
        ids = list(dict.fromkeys(data.get("source_ids") or []))
        if ids:
            sources = []
            for pk in ids:
                source = get_or_404(inventory.source_get, pk=pk)
                require_object(request, source, VIEW_SOURCE, "inventory.run_collection")
                sources.append(source)
        else:
            allowed = objects_for(request.user, "inventory.run_collection", Source.objects.all())
            if not has_perm(request.user, "inventory.run_collection") and not allowed.exists():
                deny(request, "inventory.run_collection")
            sources = list(allowed.filter(enabled=True))
        run = collection_start(actor=request.user, sources=sources)
        return _accepted(request, run)

    @extend_schema(parameters=[ID], request=None, responses={202: RunDetailSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        """Start a new run of this run's failed units."""
        run = get_or_404(inventory.run_get, pk=int(pk))
        units = inventory.run_units(run=run, user=request.user)
        if not units:
            deny(request, VIEW_SOURCE, run, hide=True)
        sources = {u.source for u in units if u.status == CollectionUnit.Status.FAILED} or {u.source for u in units}
        for source in sorted(sources, key=lambda x: x.pk):
            require(request, "inventory.run_collection", source)
        retry = collection_retry(actor=request.user, run=run)
        return _accepted(request, retry)
