"""Granting and removing per-object reach (django-guardian), for any shareable model.

One service serves every register, so sharing a control and sharing a source follow the
same rules: only holders of the model's ``share_*`` permission share, only permissions
listed in OBJECT_PERMISSIONS are grantable, deactivated users get nothing, and every
change is audited in the same transaction.
"""

from __future__ import annotations

from django.db import transaction
from guardian.models import UserObjectPermission
from guardian.shortcuts import assign_perm, remove_perm

from apps.accounts.roles import OBJECT_PERMISSIONS
from apps.audit import events
from apps.core.errors import PermissionRefused, ValidationFailed
from apps.core.permissions import has_perm


def _label(obj) -> str:
    return f"{obj._meta.app_label}.{obj._meta.model_name}"


def share_permission(obj) -> str:
    return f"{obj._meta.app_label}.share_{obj._meta.model_name}"


def grantable_permissions(obj) -> list[str]:
    return OBJECT_PERMISSIONS[_label(obj)]


def _check(actor, obj, permissions: list[str]) -> None:
    if not has_perm(actor, share_permission(obj), obj):
        raise PermissionRefused(f"{actor} may not share {obj}")
    allowed = set(grantable_permissions(obj))
    if not permissions or any(p not in allowed for p in permissions):
        raise ValidationFailed(f"Permissions must be among {', '.join(sorted(allowed))}.")


@transaction.atomic
def object_share(*, actor, obj, grantee, permissions: list[str]) -> None:
    """Grant ``grantee`` the given per-object permissions (codenames) on ``obj``. Audited."""
    _check(actor, obj, permissions)
    if not grantee.is_active:
        raise ValidationFailed(f"{grantee} is deactivated.")
    for codename in permissions:
        assign_perm(codename, grantee, obj)
    events.object_shared(actor=actor, target=obj, grantee=grantee, permissions=permissions)


@transaction.atomic
def object_unshare(*, actor, obj, grantee, permissions: list[str], protected_user_ids: set[int] = frozenset()) -> None:
    """Remove per-object permissions; ``protected_user_ids`` (e.g. an owner) keep theirs."""
    _check(actor, obj, permissions)
    if grantee.pk in protected_user_ids:
        raise ValidationFailed(f"{grantee} owns this and keeps access; change the owner first.")
    for codename in permissions:
        remove_perm(codename, grantee, obj)
    events.object_unshared(actor=actor, target=obj, grantee=grantee, permissions=permissions)


def object_shares(obj) -> list[tuple[object, list[str]]]:
    """Who holds per-object permissions on ``obj``: ``[(user, [codenames])]``."""
    rows = (
        UserObjectPermission.objects.filter(
            content_type__app_label=obj._meta.app_label, content_type__model=obj._meta.model_name, object_pk=str(obj.pk)
        )
        .select_related("user", "permission")
        .order_by("user__username", "permission__codename")
    )
    grouped: dict[int, tuple[object, list[str]]] = {}
    for row in rows:
        grouped.setdefault(row.user_id, (row.user, []))[1].append(row.permission.codename)
    return list(grouped.values())
