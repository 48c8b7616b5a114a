"""Reads of the installation itself."""

from django.conf import settings

from apps.core.models import Organisation


def organisation_get() -> Organisation:
    """Return the installation's organisation, creating it from settings on first use."""
    org = Organisation.objects.order_by("id").first()
    if org is None:
        org = Organisation.objects.create(name=settings.KEYTRAIL_ORGANISATION_NAME)
    return org


def organisation_name() -> str:
    """The organisation's name, or ``KEYTRAIL_ORGANISATION_NAME`` when none is stored yet (nothing is created)."""
    return Organisation.objects.order_by("id").values_list("name", flat=True).first() or settings.KEYTRAIL_ORGANISATION_NAME
