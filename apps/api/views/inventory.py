"""Collected credentials and identities (metadata only), their versions and events: visible to
those who may view their source."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.api.serializers.inventory import (
    CredentialDetailSerializer,
    CredentialEventSerializer,
    CredentialSerializer,
    IdentityDetailSerializer,
    IdentitySerializer,
    VersionSerializer,
)
from apps.api.views._common import ID, SOURCE_FILTER, VIEW_SOURCE, get_or_404, paginated, query_filters, text_param
from apps.audit.access import require_object
from apps.inventory import selectors as inventory
from apps.inventory.models import Credential, Identity

PRESENCE = text_param("presence", "present: still in the cloud; disappeared: gone since.", ["present", "disappeared"])
OWNER = text_param("owner", "set: has an owner tag; missing: has none.", ["set", "missing"])
Q_FILTER = text_param("q", "Text in the name or the cloud id.")


class _CollectedViewSet(viewsets.GenericViewSet):
    """Objects collected from a source: visible to those who may view that source (404 otherwise)."""

    lookup_value_regex = r"\d+"
    getter = None  # the selector that loads one object by ``pk``

    def _collected(self, request, pk):
        obj = get_or_404(type(self).getter, pk=int(pk))
        require_object(request, obj.source, VIEW_SOURCE)
        return obj


class CredentialViewSet(_CollectedViewSet):
    """Credentials (metadata only) of the sources you may view."""

    getter = staticmethod(inventory.credential_get)
    FILTERS = ("credential_type", "source", "presence", "enabled", "owner", "q")

    @extend_schema(
        parameters=[
            text_param("credential_type", "The credential's type.", Credential.Type.values),
            SOURCE_FILTER,
            PRESENCE,
            text_param("enabled", "yes, no or unknown.", ["yes", "no", "unknown"]),
            OWNER,
            Q_FILTER,
        ],
        responses=CredentialSerializer(many=True),
    )
    def list(self, request):
        return paginated(self, inventory.credential_list(user=request.user, **query_filters(request, self.FILTERS)), CredentialSerializer)

    @extend_schema(parameters=[ID], responses=CredentialDetailSerializer)
    def retrieve(self, request, pk=None):
        return Response(CredentialDetailSerializer(self._collected(request, pk)).data)

    @extend_schema(parameters=[ID], responses=VersionSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def versions(self, request, pk=None):
        """The credential's metadata as it stood over time, oldest first, with what changed."""
        credential = self._collected(request, pk)
        return Response(VersionSerializer(inventory.credential_versions(credential=credential), many=True).data)

    @extend_schema(parameters=[ID], responses=CredentialEventSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def events(self, request, pk=None):
        """What collections observed: appeared, rotated, deactivated, disappeared..."""
        credential = self._collected(request, pk)
        return Response(CredentialEventSerializer(inventory.credential_events(credential=credential), many=True).data)


class IdentityViewSet(_CollectedViewSet):
    """Identities (IAM users, root) of the sources you may view."""

    getter = staticmethod(inventory.identity_get)
    FILTERS = ("kind", "source", "privileged", "mfa", "owner", "presence", "q")

    @extend_schema(
        parameters=[
            text_param("kind", "The identity's kind.", Identity.Kind.values),
            SOURCE_FILTER,
            text_param("privileged", "yes or no.", ["yes", "no"]),
            text_param("mfa", "yes or no.", ["yes", "no"]),
            OWNER,
            PRESENCE,
            Q_FILTER,
        ],
        responses=IdentitySerializer(many=True),
    )
    def list(self, request):
        return paginated(self, inventory.identity_list(user=request.user, **query_filters(request, self.FILTERS)), IdentitySerializer)

    @extend_schema(parameters=[ID], responses=IdentityDetailSerializer)
    def retrieve(self, request, pk=None):
        return Response(IdentityDetailSerializer(self._collected(request, pk)).data)

    @extend_schema(parameters=[ID], responses=VersionSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def versions(self, request, pk=None):
        identity = self._collected(request, pk)
        return Response(VersionSerializer(inventory.identity_versions(identity=identity), many=True).data)
