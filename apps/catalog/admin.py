from django.contrib import admin

from apps.catalog.models import CatalogVersion, Clause, Requirement
from apps.core.admin import ReadOnlyAdmin


@admin.register(Requirement)
class RequirementAdmin(ReadOnlyAdmin):
    list_display = ["ref", "title", "clause", "automatable"]
    list_filter = ["clause", "automatable"]


admin.site.register(Clause, ReadOnlyAdmin)
admin.site.register(CatalogVersion, ReadOnlyAdmin)
