from django.conf import settings

from apps.accounts.permissions import has_perm, objects_for, user_roles
from apps.accounts.roles import Role


def roles(request):
    user = getattr(request, "user", None)
    names = user_roles(user) if user is not None else set()
    return {
        "user_roles": sorted(Role(r).label for r in names if r in Role.values),
        "can_view_audit": has_perm(user, "audit.view_auditevent") if user else False,
        "can_add_control": has_perm(user, "controls.add_control") if user else False,
        "keytrail_version": settings.KEYTRAIL_VERSION,
        "can_view_inventory": _can_view_inventory(user),
        "can_view_posture": has_perm(user, "evaluation.view_evaluation") if user else False,
        # "Request an exception" links on failing findings, and the "Exceptions" nav link.
        "can_request_exception": has_perm(user, "exceptions_register.request_exception") if user else False,
        "can_view_exceptions": _can_view_exceptions(user),
        "can_view_reviews": _can_view_reviews(user),
        "can_view_evidence": _can_view_evidence(user),
    }


def _can_view_inventory(user) -> bool:
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if has_perm(user, "inventory.view_source"):
        return True
    from apps.inventory.models import Source

    return objects_for(user, "inventory.view_source", Source.objects.all()).exists()


def _can_view_exceptions(user) -> bool:
    """Whether the register has anything for ``user``: they view every exception, may request
    one, or were given (or own, or requested) one."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if has_perm(user, "exceptions_register.view_exceptionrequest") or has_perm(user, "exceptions_register.request_exception"):
        return True
    from apps.exceptions_register.models import ExceptionRequest

    return objects_for(user, "exceptions_register.view_exceptionrequest", ExceptionRequest.objects.all()).exists()


def _can_view_reviews(user) -> bool:
    """GRC leads; reviewers with items in a campaign; auditors given a signed-off campaign."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if has_perm(user, "reviews.view_campaign"):
        return True
    from apps.reviews.selectors import campaigns_visible

    return campaigns_visible(user=user).exists()
def _can_view_evidence(user) -> bool:
    """GRC leads see every engagement; others (auditors) once one is shared with them."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if has_perm(user, "evidence.view_engagement"):
        return True
    from apps.evidence.models import Engagement

    return objects_for(user, "evidence.view_engagement", Engagement.objects.all()).exists()
