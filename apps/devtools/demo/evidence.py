"""The demo's engagement (shared with the demo auditor, avery) and a freshly built pack."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.evidence import services
from apps.evidence.models import Engagement, Pack

DEMO_ENGAGEMENT = "ISO/IEC 27017 surveillance audit (demo)"


def seed_demo_engagement() -> Engagement:
    """The demo engagement (created once, shared with avery) over every source for this year."""
    grace, avery = User.objects.get(username="grace"), User.objects.get(username="avery")
    engagement = Engagement.objects.filter(name=DEMO_ENGAGEMENT).first()
    if engagement is None:
        today = timezone.now().date()
        engagement = services.engagement_create(
            actor=grace, name=DEMO_ENGAGEMENT, period_start=dt.date(today.year, 1, 1), period_end=dt.date(today.year, 12, 31)
        )
        services.engagement_share(actor=grace, engagement=engagement, grantee=avery)
    return engagement


def build_demo_pack(*, engagement: Engagement) -> Pack:
    """Queue a new pack as of now and wait until the worker has built it (or failed to)."""
    from apps.devtools.demo.worker import wait_until

    grace = User.objects.get(username="grace")
    with transaction.atomic():
        pack = services.pack_request(actor=grace, engagement=engagement, sample_size=10)
    wait_until(lambda: Pack.objects.get(pk=pack.pk).is_finished, what=f"pack {pack.pack_id}")
    pack.refresh_from_db()
    return pack
