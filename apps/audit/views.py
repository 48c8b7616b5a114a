from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from apps.audit.access import require
from apps.audit.checkpoints import chain_verify
from apps.audit.exports import AUDIT_COLUMNS
from apps.audit.models import AuditEvent
from apps.audit.selectors import audit_event_list
from apps.core.export import export_format, export_response
from apps.core.pagination import paginate


@require_GET
def event_list_view(request):
    require(request, "audit.view_auditevent")
    filters = {k: request.GET.get(k, "").strip()[:100] for k in ("event_type", "actor", "target_type")}
    events = audit_event_list(**filters)
    fmt = export_format(request)
    if fmt:
        return export_response(rows=events.iterator(chunk_size=2000), columns=AUDIT_COLUMNS, fmt=fmt, name="audit-trail")
    page = paginate(request, events, per_page=50)
    event_types = AuditEvent.objects.order_by().values_list("event_type", flat=True).distinct()
    return render(request, "audit/event_list.html", {"page": page, "filters": filters, "event_types": sorted(event_types)})


@require_POST
def chain_verify_view(request):
    require(request, "audit.view_auditevent")
    report = chain_verify()  # the links and every signed checkpoint
    return render(request, "audit/_verify_result.html", {"report": report})
