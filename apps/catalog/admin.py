from django.contrib import admin

from apps.catalog.models import CatalogVersion, Clause, Requirement


class ReadOnlyAdmin(admin.ModelAdmin):
    """The catalog is data from the repository: change the YAML and run load_catalog."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Requirement)
class RequirementAdmin(ReadOnlyAdmin):
    list_display = ["ref", "title", "clause", "automatable"]
    list_filter = ["clause", "automatable"]


admin.site.register(Clause, ReadOnlyAdmin)
admin.site.register(CatalogVersion, ReadOnlyAdmin)
