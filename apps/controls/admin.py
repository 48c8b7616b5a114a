from django.contrib import admin

from apps.controls.models import Control, ControlEvidence
from apps.core.admin import ReadOnlyAdmin


@admin.register(Control)
class ControlAdmin(ReadOnlyAdmin):
    """Read-only: edits here would bypass the audited services; use the application's pages."""

    list_display = ["ref", "title", "owner", "implementation_status", "test_frequency"]
    list_filter = ["implementation_status", "test_frequency"]
    search_fields = ["ref", "title"]
    readonly_fields = [
        "ref",
        "title",
        "requirements",
        "owner",
        "narrative",
        "implementation_status",
        "test_frequency",
        "rule_ids",
        "created_by",
    ]


@admin.register(ControlEvidence)
class ControlEvidenceAdmin(ReadOnlyAdmin):
    list_display = ["original_name", "control", "sha256", "size", "effective_date", "uploaded_by", "uploaded_at"]
