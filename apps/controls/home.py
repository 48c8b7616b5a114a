"""The home page: the control register at a glance (controls by status, requirements no control
covers yet, the latest audit events). It lives with the register, which sits above the
catalog and the audit trail it summarises."""

from django.db.models import Count
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.audit.selectors import audit_event_list
from apps.catalog.selectors import requirement_list
from apps.controls.models import Control
from apps.core.permissions import has_perm, objects_for
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
    return render(request, "controls/home.html", context)
