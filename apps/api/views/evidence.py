"""The API's evidence endpoints: the same checks as apps/evidence/views.py, the same
selectors and services.

An engagement — and every pack of it — is visible with ``evidence.view_engagement`` (the GRC
lead; an auditor it was shared with) and a 404 otherwise; creating one takes
``evidence.add_engagement``, building a pack ``evidence.build_pack`` on it (403 when visible).
A download re-hashes the stored zip and is audited (``pack.downloaded``), exactly as the UI's.
"""

from __future__ import annotations

import datetime as dt

from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status as http
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.api.serializers.evidence import (
    EngagementCreateSerializer,
    EngagementDetailSerializer,
    EngagementSerializer,
    PackBuildSerializer,
    PackDetailSerializer,
    PackQueuedSerializer,
    PackSerializer,
    VerifyReportSerializer,
)
from apps.api.views._common import ID, get_or_404, paginated, validated
from apps.audit.access import require, require_object
from apps.evidence import selectors, services
from apps.evidence.models import Engagement, Pack

VIEW, ADD, BUILD = services.VIEW, services.ADD, services.BUILD


def _engagement(request, pk, action_perm=None) -> Engagement:
    engagement = get_or_404(selectors.engagement_get, pk=int(pk))
    require_object(request, engagement, VIEW, action_perm)
    return engagement


def _pack(request, pk) -> Pack:
    """A pack, if its engagement is visible (404 otherwise, recorded)."""
    pack = get_or_404(lambda pk: Pack.objects.select_related("engagement", "built_by").get(pk=pk), pk=int(pk))
    require_object(request, pack.engagement, VIEW)
    return pack


class EngagementViewSet(viewsets.GenericViewSet):
    """Audit engagements you may view; their packs."""

    lookup_value_regex = r"\d+"

    @extend_schema(responses=EngagementSerializer(many=True))
    def list(self, request):
        return paginated(self, selectors.engagement_list(user=request.user), EngagementSerializer)

    @extend_schema(parameters=[ID], responses=EngagementDetailSerializer)
    def retrieve(self, request, pk=None):
        return Response(EngagementDetailSerializer(_engagement(request, pk)).data)

    @extend_schema(request=EngagementCreateSerializer, responses={201: EngagementDetailSerializer})
    def create(self, request):
        """An engagement: its name, audit period and scope (no sources or requirements: all of them)."""
        require(request, ADD)
        engagement = services.engagement_create(actor=request.user, **validated(EngagementCreateSerializer, request))
        return Response(EngagementDetailSerializer(selectors.engagement_get(pk=engagement.pk)).data, status=http.HTTP_201_CREATED)

    @extend_schema(
        methods=["GET"], parameters=[ID], responses=PackSerializer(many=True), description="The engagement's packs, newest first."
    )
    @extend_schema(
        methods=["POST"],
        parameters=[ID],
        request=PackBuildSerializer,
        responses={202: PackQueuedSerializer},
        description="Queue a pack build (a worker builds it); answers 202 with the pack's id and the URL to poll for its progress.",
    )
    @action(detail=True, methods=["get", "post"])
    def packs(self, request, pk=None):
        if request.method == "GET":
            engagement = _engagement(request, pk)
            return paginated(self, selectors.engagement_packs(engagement=engagement), PackSerializer)
        engagement = _engagement(request, pk, BUILD)
        d = validated(PackBuildSerializer, request)
        as_of = d["as_of"]
        if as_of is not None and as_of.tzinfo is None:
            as_of = as_of.replace(tzinfo=dt.UTC)
        pack = services.pack_request(
            actor=request.user, engagement=engagement, as_of=as_of, sample_size=d["sample_size"], sample_seed=d["sample_seed"]
        )
        pack.refresh_from_db()  # its state now: a pack a worker (or eager Celery) already built is not "queued"
        url = reverse("api:pack-detail", args=[pack.pk])
        return Response(
            {"id": pack.pk, "pack_id": pack.pack_id, "state": pack.state, "progress_url": url},
            status=http.HTTP_202_ACCEPTED,
            headers={"Location": url},
        )


class PackViewSet(viewsets.GenericViewSet):
    """Evidence packs of the engagements you may view."""

    lookup_value_regex = r"\d+"
    read_only_actions = {"verify"}  # changes nothing but the audit trail: a read-only token may verify

    @extend_schema(parameters=[ID], responses=PackDetailSerializer)
    def retrieve(self, request, pk=None):
        """State, progress (percent and stage) while building; once built, the zip's SHA-256, the
        manifest's pack hash and every file's hash."""
        return Response(PackDetailSerializer(_pack(request, pk)).data)

    @extend_schema(
        parameters=[ID], responses={(200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY, description="The pack's zip.")}
    )
    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        """The zip, after checking its stored bytes still match their SHA-256; recorded (``pack.downloaded``)."""
        pack = _pack(request, pk)
        fh = services.pack_open(actor=request.user, pack=pack)
        return FileResponse(fh, as_attachment=True, filename=pack.filename, content_type="application/zip")

    @extend_schema(parameters=[ID], request=None, responses=VerifyReportSerializer)
    @action(detail=True, methods=["post"])
    def verify(self, request, pk=None):
        """Verify the stored pack against its manifest and signature; recorded (``pack.verified``)."""
        report = services.pack_verify(actor=request.user, pack=_pack(request, pk))
        return Response(
            {
                "ok": report.ok,
                "summary": report.summary(),
                "problems": report.problems,
                "files_checked": report.files_checked,
                "manifest": report.manifest if isinstance(report.manifest, dict) else {},
            }
        )
