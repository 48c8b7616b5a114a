"""The home page: each person lands on their own work (docs/guide-*.md).

A reviewer sees her open review items by campaign; an approver the exception requests waiting
for him; a GRC lead the posture at a glance and what is failing, expiring or late; an auditor
her engagements and their packs. A person with several roles sees each part. Every row links
to the page where it is handled.
"""

from django.db.models import Count
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.accounts.roles import Role
from apps.audit.selectors import audit_event_list
from apps.catalog.selectors import requirement_list
from apps.controls.models import Control
from apps.core.permissions import has_perm, objects_for, user_roles
from apps.core.selectors import organisation_get
from apps.home import selectors


def _control_register(user) -> dict:
    controls = objects_for(user, "controls.view_control", Control.objects.all())
    by_status = dict(controls.values_list("implementation_status").annotate(n=Count("id")))
    requirements = requirement_list() if has_perm(user, "catalog.view_requirement") else None
    return {
        "control_count": sum(by_status.values()),
        "controls_by_status": [(label, by_status.get(value, 0), value) for value, label in Control.Status.choices],
        "uncovered": list(requirements.filter(control_count=0)[:50]) if requirements is not None else [],
    }


@require_GET
def home(request):
    user = request.user
    roles = user_roles(user)
    grc = Role.GRC_LEAD in roles or user.is_superuser
    context: dict = {"organisation": organisation_get(), "is_grc_lead": grc}

    review_work = selectors.reviewer_work(user=user)
    if Role.REVIEWER in roles or review_work:
        context["review_work"] = review_work
        context["show_reviewer"] = True
    if has_perm(user, "exceptions_register.decide_exception"):
        context["approvals"], context["approval_count"] = selectors.approver_queue(user=user)
        context["show_approver"] = True
    if grc:
        context["posture"] = selectors.posture_at_a_glance()
        context["status_labels"] = selectors.STATUS_LABELS
        context["source_problems"] = selectors.source_problems(user=user)
        context["expiring"] = selectors.exceptions_expiring(user=user)
        context["overdue_campaigns"] = selectors.overdue_campaigns(user=user)
        context["overdue_remediation"], context["overdue_remediation_count"] = selectors.overdue_remediation(user=user)
        context.update(_control_register(user))
    if grc or has_perm(user, "inventory.run_collection"):
        context["running"] = selectors.running_work(user=user)
    if Role.AUDITOR in roles or (not grc and has_perm(user, "evidence.view_engagement")):
        context["engagements"] = selectors.auditor_engagements(user=user)
        context["show_auditor"] = True
    if has_perm(user, "audit.view_auditevent"):
        context["recent_events"] = list(audit_event_list()[:10])
    return render(request, "home/home.html", context)
