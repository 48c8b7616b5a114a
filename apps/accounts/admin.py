"""The Django admin for users and groups, audited.

The admin changes users, their roles (groups), their permissions and groups' permissions
without going through the services, so each save and delete here writes ``admin.changed``
(apps.audit.events) in the admin's own transaction: who did it, to whom, and every field,
group and permission before and after. Object permissions (django-guardian) are not exposed
in the admin; they change only through the sharing service (audited as ``object.shared``).
"""

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group

from apps.accounts.models import User
from apps.audit import events

USER_FIELDS = ("username", "email", "first_name", "last_name", "is_active", "is_staff", "is_superuser")


def _perms(queryset) -> list[str]:
    return sorted(f"{p.content_type.app_label}.{p.codename}" for p in queryset.select_related("content_type"))


def _user_state(user) -> dict:
    if user.pk is None:
        return {}
    stored = User.objects.filter(pk=user.pk).first()
    if stored is None:
        return {}
    state = {f: getattr(stored, f) for f in USER_FIELDS}
    state["groups"] = sorted(stored.groups.values_list("name", flat=True))
    state["user_permissions"] = _perms(stored.user_permissions.all())
    state["password_changed"] = stored.password
    return state


def _public(state: dict) -> dict:
    return {k: v for k, v in state.items() if k != "password_changed"}


def _diff(before: dict, after: dict) -> dict:
    changes = {k: [before.get(k), after.get(k)] for k in after if before.get(k) != after.get(k)}
    if "password_changed" in changes:  # never the hash itself
        changes["password_changed"] = [False, True] if before else [None, True]
    return changes


class AuditedUserAdmin(UserAdmin):
    def save_model(self, request, obj, form, change):
        request._keytrail_before = _user_state(obj) if change else {}
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        user = form.instance
        changes = _diff(getattr(request, "_keytrail_before", {}), _user_state(user))
        if changes:
            events.admin_changed(actor=request.user, target=user, action="changed" if change else "added", changes=changes)

    def delete_model(self, request, obj):
        events.admin_changed(actor=request.user, target=obj, action="deleted", changes={"user": [_public(_user_state(obj)), None]})
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for user in queryset:
            events.admin_changed(actor=request.user, target=user, action="deleted", changes={"user": [_public(_user_state(user)), None]})
        super().delete_queryset(request, queryset)


def _group_state(group) -> dict:
    if group.pk is None or not Group.objects.filter(pk=group.pk).exists():
        return {}
    stored = Group.objects.get(pk=group.pk)
    return {"name": stored.name, "permissions": _perms(stored.permissions.all())}


class AuditedGroupAdmin(GroupAdmin):
    """Groups are keytrail's roles: a permission added here reaches every holder of the role."""

    def save_model(self, request, obj, form, change):
        request._keytrail_before = _group_state(obj) if change else {}
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        changes = _diff(getattr(request, "_keytrail_before", {}), _group_state(form.instance))
        if changes:
            events.admin_changed(actor=request.user, target=form.instance, action="changed" if change else "added", changes=changes)

    def delete_model(self, request, obj):
        events.admin_changed(actor=request.user, target=obj, action="deleted", changes={"group": [_group_state(obj), None]})
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for group in queryset:
            events.admin_changed(actor=request.user, target=group, action="deleted", changes={"group": [_group_state(group), None]})
        super().delete_queryset(request, queryset)


admin.site.register(User, AuditedUserAdmin)
admin.site.unregister(Group)
admin.site.register(Group, AuditedGroupAdmin)
