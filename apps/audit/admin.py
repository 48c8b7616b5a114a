from django.contrib import admin

from apps.audit.models import AuditEvent
from apps.core.admin import ReadOnlyAdmin


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Read-only: nothing in the admin can add, edit or delete events."""

    list_display = ["seq", "occurred_at", "actor_label", "event_type", "target_type", "target_id"]
    list_filter = ["event_type", "target_type"]
    search_fields = ["actor_label", "target_repr", "target_id"]
