"""The requirement catalog's pages. They show which controls implement each requirement, so
the control register serves them (it sits above the catalog); the URLs keep the catalog's
namespace."""

from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from apps.audit.access import require
from apps.catalog.models import Clause, Requirement
from apps.catalog.selectors import requirement_list, requirement_search
from apps.controls.models import Control
from apps.core.permissions import objects_for


@require_GET
def requirement_list_view(request):
    require(request, "catalog.view_requirement")
    clause = request.GET.get("clause", "")
    q = request.GET.get("q", "").strip()[:100]
    qs = requirement_search(requirement_list(), q)
    if clause:
        qs = qs.filter(clause__ref=clause)
    template = "catalog/_requirement_rows.html" if request.headers.get("HX-Request") else "catalog/requirement_list.html"
    return render(request, template, {"requirements": qs, "clauses": Clause.objects.order_by("ref"), "clause": clause, "q": q})


@require_GET
def requirement_detail_view(request, ref: str):
    require(request, "catalog.view_requirement")
    requirement = get_object_or_404(Requirement.objects.select_related("clause", "introduced_in", "updated_in", "retired_in"), ref=ref)
    controls = objects_for(request.user, "controls.view_control", Control.objects.filter(requirements=requirement)).select_related("owner")
    return render(request, "catalog/requirement_detail.html", {"requirement": requirement, "controls": controls})
