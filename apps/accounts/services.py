from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.db import transaction

from apps.accounts.models import User
from apps.accounts.roles import ROLE_PERMISSIONS, Role
from apps.audit import events


def roles_sync() -> bool:
    """Create the role groups and give each exactly the permissions ROLE_PERMISSIONS lists.

    Idempotent; runs after migrate. Returns False (and changes nothing) while some listed
    permission does not exist yet, which happens part-way through a first migrate.
    """
    wanted_by_role: dict[str, list[Permission]] = {}
    for role, perms in ROLE_PERMISSIONS.items():
        wanted = []
        for dotted in perms:
            app_label, codename = dotted.split(".", 1)
            perm = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if perm is None:
                return False
            wanted.append(perm)
        wanted_by_role[role] = wanted
    for role, wanted in wanted_by_role.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set(wanted)
    return True


@transaction.atomic
def user_create(*, username: str, password: str, role: str, email: str = "", first_name: str = "", last_name: str = "", actor=None) -> User:
    """Create a user holding one role; audited."""
    if role not in Role.values:
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(Role.values)}")
    user = User.objects.create_user(username=username, password=password, email=email, first_name=first_name, last_name=last_name)
    user_role_assign(user=user, role=role, actor=actor)
    return user


@transaction.atomic
def user_role_assign(*, user: User, role: str, actor=None) -> None:
    user.groups.add(Group.objects.get(name=role))
    events.user_role_assigned(actor=actor, user=user, role=role)
