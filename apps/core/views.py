from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.accounts.permissions import has_perm, objects_for
from apps.audit.selectors import audit_event_list
from apps.catalog.selectors import requirement_list
from apps.controls.models import Control
from apps.core.selectors import organisation_get


@require_GET
def home(request):
    user = request.user
    controls = objects_for(user, "controls.view_control", Control.objects.all())
    by_status = dict(controls.values_list("implementation_status").annotate(n=Count("id")))
    requirements = requirement_list() if has_perm(user, "catalog.view_requirement") else None
    uncovered = requirements.filter(control_count=0) if requirements is not None else None
    context = {
        "organisation": organisation_get(),
        "control_count": sum(by_status.values()),
        "controls_by_status": [(label, by_status.get(value, 0), value) for value, label in Control.Status.choices],
        "requirement_count": requirements.count() if requirements is not None else None,
        "uncovered": list(uncovered[:50]) if uncovered is not None else [],
        "recent_events": list(audit_event_list()[:10]) if has_perm(user, "audit.view_auditevent") else [],
    }
    return render(request, "core/home.html", context)


def healthz(request):
    return HttpResponse("ok", content_type="text/plain")
