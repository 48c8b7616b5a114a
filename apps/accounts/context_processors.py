from django.conf import settings

from apps.accounts.permissions import has_perm, user_roles
from apps.accounts.roles import Role


def roles(request):
    user = getattr(request, "user", None)
    names = user_roles(user) if user is not None else set()
    return {
        "user_roles": sorted(Role(r).label for r in names if r in Role.values),
        "can_view_audit": has_perm(user, "audit.view_auditevent") if user else False,
        "can_add_control": has_perm(user, "controls.add_control") if user else False,
        "keytrail_version": settings.KEYTRAIL_VERSION,
    }
