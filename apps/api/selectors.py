from django.db.models import QuerySet

from apps.api.models import ApiToken


def token_list(*, user) -> QuerySet[ApiToken]:
    """``user``'s own tokens, newest first."""
    return ApiToken.objects.filter(user=user).select_related("revoked_by").order_by("-created_at", "-pk")


def token_inventory(*, state: str = "", owner: str = "") -> QuerySet[ApiToken]:
    """Every user's tokens (the GRC lead's inventory page), filtered; owner and revoker joined in."""
    from django.db.models import Q
    from django.utils import timezone

    now = timezone.now()
    qs = ApiToken.objects.select_related("user", "revoked_by")
    if state == "active":
        qs = qs.filter(revoked_at__isnull=True, expires_at__gt=now)
    elif state == "expired":
        qs = qs.filter(revoked_at__isnull=True, expires_at__lte=now)
    elif state == "revoked":
        qs = qs.filter(revoked_at__isnull=False)
    elif state == "unused":
        qs = qs.filter(Q(last_used_at__isnull=True), revoked_at__isnull=True, expires_at__gt=now)
    if owner:
        qs = qs.filter(user__username=owner)
    return qs.order_by("user__username", "-created_at", "-pk")
