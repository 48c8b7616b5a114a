"""Login throttling (django-axes): what it counts failures against."""

from apps.accounts.models import User
from apps.core.text import storable


def throttling_username(request, credentials=None) -> str:
    """The username django-axes counts failures against (``AXES_USERNAME_CALLABLE``): what was
    typed, made storable (NUL and undecodable characters as visible escapes) and cut to the
    longest username keytrail accepts, so a hostile or huge value is throttled, not a crash."""
    value = (credentials or {}).get("username") if credentials else None
    if value is None:
        value = request.POST.get("username", "") if request is not None else ""
    return storable(str(value))[: User._meta.get_field("username").max_length]
