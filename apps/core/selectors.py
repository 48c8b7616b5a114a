from django.conf import settings

from apps.core.models import Organisation


def organisation_get() -> Organisation:
    """Return the installation's organisation, creating it from settings on first use."""
    org = Organisation.objects.order_by("id").first()
    if org is None:
        org = Organisation.objects.create(name=settings.KEYTRAIL_ORGANISATION_NAME)
    return org
