from django.db.models import QuerySet

from apps.audit.models import AuditEvent


def audit_events_for(obj, *, limit: int = 100) -> QuerySet[AuditEvent]:
    """The newest events about one object (its history), actor preloaded."""
    meta = obj._meta
    return (
        AuditEvent.objects.filter(target_type=f"{meta.app_label}.{meta.model_name}", target_id=str(obj.pk))
        .select_related("actor")
        .order_by("-seq")[:limit]
    )


def audit_event_list(*, event_type: str = "", actor: str = "", target_type: str = "") -> QuerySet[AuditEvent]:
    qs = AuditEvent.objects.select_related("actor").order_by("-seq")
    if event_type:
        qs = qs.filter(event_type=event_type)
    if actor:
        qs = qs.filter(actor_label__icontains=actor)
    if target_type:
        qs = qs.filter(target_type=target_type)
    return qs
