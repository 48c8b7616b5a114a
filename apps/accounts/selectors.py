"""Reads about users and their roles (roles are groups: apps.accounts.roles)."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.accounts.models import User


def active_users_with_role(role: str) -> QuerySet[User]:
    """Active users holding ``role``, by username."""
    return User.objects.filter(is_active=True, groups__name=role).distinct().order_by("username")


def user_is_active_with_role(user, role: str) -> bool:
    return bool(user is not None and user.is_active and user.groups.filter(name=role).exists())
