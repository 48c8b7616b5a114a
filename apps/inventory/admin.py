from django.contrib import admin

from apps.core.admin import ReadOnlyAdmin
from apps.inventory.models import CollectionRun, Credential, Identity, Source


@admin.register(Source)
class SourceAdmin(ReadOnlyAdmin):
    list_display = ["name", "kind", "enabled", "aws_account_id", "vault_url", "schedule_minutes"]


@admin.register(CollectionRun)
class CollectionRunAdmin(ReadOnlyAdmin):
    list_display = ["id", "status", "trigger", "requested_by", "created_at", "finished_at"]
    list_filter = ["status", "trigger"]


@admin.register(Credential)
class CredentialAdmin(ReadOnlyAdmin):
    list_display = ["name", "credential_type", "source", "enabled", "owner", "disappeared_at"]
    list_filter = ["credential_type", "source"]
    search_fields = ["name", "external_id"]


@admin.register(Identity)
class IdentityAdmin(ReadOnlyAdmin):
    list_display = ["name", "kind", "source", "privileged", "mfa_active", "owner"]
    list_filter = ["kind", "source"]
