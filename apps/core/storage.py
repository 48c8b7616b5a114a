"""Object storage for evidence: S3 (django-storages) with optional Object Lock retention."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone
from storages.backends.s3 import S3Storage


class EvidenceS3Storage(S3Storage):
    """S3Storage that writes every object under Object Lock when KEYTRAIL_OBJECT_LOCK_MODE is set.

    The retention date is computed per object at write time (``now + KEYTRAIL_OBJECT_LOCK_DAYS``),
    so it cannot be a fixed entry of ``object_parameters``. The bucket must have been created with
    Object Lock enabled (which turns versioning on); S3 then refuses to delete the locked version
    or shorten its retention, and an overwrite only adds a newer version above it."""

    def get_object_parameters(self, name: str) -> dict:
        params = super().get_object_parameters(name)
        mode = settings.KEYTRAIL_OBJECT_LOCK_MODE
        if mode:
            params["ObjectLockMode"] = mode
            params["ObjectLockRetainUntilDate"] = timezone.now() + dt.timedelta(days=settings.KEYTRAIL_OBJECT_LOCK_DAYS)
        return params
