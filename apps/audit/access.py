"""How views refuse: every refusal is recorded in the audit trail, then answered.

A user who may not even see an object gets 404 (its existence is not confirmed); a user
who may see it but not act gets 403.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404

from apps.audit import events
from apps.core.permissions import has_perm


def _target_tuple(obj):
    if obj is None:
        return None
    meta = obj._meta
    return (f"{meta.app_label}.{meta.model_name}", str(obj.pk), "")  # repr withheld from those refused


def deny(request, perm: str, obj=None, *, hide: bool = False):
    events.access_denied(actor=request.user, permission=perm, target=_target_tuple(obj), path=request.get_full_path())
    if hide:
        raise Http404("Not found")
    raise PermissionDenied(f"You do not have the permission {perm}.")


def require(request, perm: str, obj=None, *, hide: bool = False) -> None:
    """Raise (after recording) unless request.user holds ``perm`` (globally or on ``obj``)."""
    if not has_perm(request.user, perm, obj):
        deny(request, perm, obj, hide=hide)


def require_object(request, obj, view_perm: str, action_perm: str | None = None) -> None:
    """404 unless the user may view ``obj``; then 403 unless they hold ``action_perm`` on it."""
    require(request, view_perm, obj, hide=True)
    if action_perm:
        require(request, action_perm, obj)
