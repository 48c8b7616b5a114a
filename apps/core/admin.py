from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """Admin pages that show but never change: changes go through the audited services."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
