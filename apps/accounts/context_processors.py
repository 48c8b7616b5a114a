from django.conf import settings

from apps.accounts.roles import Role
from apps.core.permissions import has_perm, object_grants, user_roles


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
        "can_view_webhooks": has_perm(user, "notifications.view_webhookendpoint") if user else False,
    }


def _signed_in(user) -> bool:
    return user is not None and getattr(user, "is_authenticated", False) and user.is_active


def _can_view_inventory(user) -> bool:
    """Views every source, or was given one."""
    return _signed_in(user) and (has_perm(user, "inventory.view_source") or "inventory.view_source" in object_grants(user))


def _can_view_exceptions(user) -> bool:
    """Whether the register has anything for ``user``: they view every exception, may request
    one, or were given (or own, or requested) one."""
    return _signed_in(user) and (
        has_perm(user, "exceptions_register.view_exceptionrequest")
        or has_perm(user, "exceptions_register.request_exception")
        or "exceptions_register.view_exceptionrequest" in object_grants(user)
    )


def _can_view_reviews(user) -> bool:
    """GRC leads; reviewers with items in a campaign; auditors given a (signed-off) campaign."""
    return _signed_in(user) and (
        has_perm(user, "reviews.view_campaign") or bool({"reviews.view_campaign", "reviews.review_campaign"} & object_grants(user))
    )


def _can_view_evidence(user) -> bool:
    """GRC leads see every engagement; others (auditors) once one is shared with them."""
    return _signed_in(user) and (has_perm(user, "evidence.view_engagement") or "evidence.view_engagement" in object_grants(user))
