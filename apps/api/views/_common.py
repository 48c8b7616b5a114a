"""What the endpoint modules share: loading an object or answering 404, reading list filters,
validating input, paginating, and the schema's common parameters."""

from __future__ import annotations

from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers as drf_serializers

from apps.core.ids import out_of_range, parse_id

VIEW_SOURCE = "inventory.view_source"
ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH)


def get_or_404(getter, **lookup):
    """What ``getter(**lookup)`` returns; raises Http404 when it finds nothing or the lookup is malformed."""
    try:
        return getter(**lookup)
    except (ObjectDoesNotExist, ValueError):
        raise Http404("Not found") from None


ID_FILTERS = {"source"}  # filters that name an id: 400 for a number that cannot be one (apps.core.ids)


def query_filters(request, names) -> dict[str, str]:
    """The filters of a list, as the UI reads them (trimmed, at most 100 characters); 400 for
    text no filter can hold (a NUL character)."""
    values = {name: str(request.query_params.get(name, "")).strip()[:100] for name in names}
    bad = sorted(name for name, value in values.items() if "\x00" in value)
    if bad:
        raise drf_serializers.ValidationError({name: "A filter cannot contain a NUL character." for name in bad})
    for name in ID_FILTERS & set(names):
        if out_of_range(values[name]):
            raise drf_serializers.ValidationError({name: "Not an id: a number from 1 to 2**63-1."})
    return values


def text_param(name: str, description: str, enum=None) -> OpenApiParameter:
    """An optional text query parameter, for the schema."""
    return OpenApiParameter(name, OpenApiTypes.STR, OpenApiParameter.QUERY, required=False, description=description, enum=enum)


def paginated(view, queryset, serializer_class):
    """The page of ``queryset`` the request asks for, serialized, as the paginated response."""
    page = view.paginate_queryset(queryset)
    return view.get_paginated_response(serializer_class(page, many=True, context={"request": view.request}).data)


def validated(serializer_class, request, *, partial: bool = False) -> dict:
    """The request body's validated data; raises ValidationError (400) naming the refused fields."""
    serializer = serializer_class(data=request.data, partial=partial, context={"request": request})
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def whole_number(value: str, name: str) -> int:
    """``value`` as an id (apps.core.ids.parse_id); raises ValidationError (400, on ``name``) for anything else."""
    number = parse_id(value)
    if number is None:
        raise drf_serializers.ValidationError({name: "Give a whole number (an id)."})
    return number


SOURCE_FILTER = text_param("source", "A source's id.")
