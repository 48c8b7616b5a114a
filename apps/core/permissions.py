"""Permission checks used by every view and service: global (role) or per object (guardian)."""

from __future__ import annotations

from django.db.models import Model, QuerySet
from guardian.shortcuts import get_objects_for_user


def has_perm(user, perm: str, obj: Model | None = None) -> bool:
    """True if ``user`` holds ``perm`` ("app.codename") through a role, or on ``obj``."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.has_perm(perm):
        return True
    return obj is not None and user.has_perm(perm, obj)


def objects_for(user, perm: str, queryset: QuerySet) -> QuerySet:
    """The objects of ``queryset`` on which ``user`` holds ``perm`` (globally or per object)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return queryset.none()
    return get_objects_for_user(user, perm, klass=queryset, accept_global_perms=True, with_superuser=True)


def user_roles(user) -> set[str]:
    if not getattr(user, "is_authenticated", False):
        return set()
    return set(user.groups.values_list("name", flat=True))


def object_grants(user) -> set[str]:
    """Every "app.codename" that ``user`` holds on at least one object, directly or through a
    group: two queries, remembered on the user object (one request). The navigation asks this
    instead of one object query per section."""
    cached = getattr(user, "_keytrail_object_grants", None)
    if cached is not None:
        return cached
    from guardian.models import GroupObjectPermission, UserObjectPermission

    fields = ("content_type__app_label", "permission__codename")
    rows = set(UserObjectPermission.objects.filter(user=user).values_list(*fields).distinct())
    rows |= set(GroupObjectPermission.objects.filter(group__user=user).values_list(*fields).distinct())
    user._keytrail_object_grants = {f"{app}.{codename}" for app, codename in rows}
    return user._keytrail_object_grants
