"""Write-once object storage for evidence (packs, manual evidence): S3 through django-storages,
with optional Object Lock retention; every change the storage refuses is on the audit trail.

Configured by config/settings/storage.py (``KEYTRAIL_STORAGE=s3``). It sits with the audit
trail because that is what it extends: evidence an auditor relies on, which nobody can quietly
replace or remove."""

from __future__ import annotations

import datetime as dt

from botocore.exceptions import ClientError
from django.conf import settings
from django.utils import timezone
from storages.backends.s3 import S3Storage
from storages.utils import ReadBytesWrapper, clean_name

from apps.audit import events


class EvidenceLocked(PermissionError):
    """The object store refused to delete or replace a stored object under retention."""


class EvidenceS3Storage(S3Storage):
    """S3Storage that, when KEYTRAIL_OBJECT_LOCK_MODE is set, writes every object once:

    - each object carries Object Lock (mode from settings, retention ``now +
      KEYTRAIL_OBJECT_LOCK_DAYS``, computed per write, so it cannot be a fixed entry of
      ``object_parameters``); the bucket must have been created with Object Lock enabled;
    - a write to a name that already exists is refused by S3 itself (``If-None-Match: *``);
    - ``delete`` asks S3 to delete the stored *version* (not to hide it behind a delete marker),
      which S3 refuses while the retention lasts.

    A refusal is recorded (``storage.change_refused``) and raised as :class:`EvidenceLocked`."""

    def _locked(self) -> bool:
        return bool(settings.KEYTRAIL_OBJECT_LOCK_MODE)

    def get_object_parameters(self, name: str) -> dict:
        params = super().get_object_parameters(name)
        if self._locked():
            params["ObjectLockMode"] = settings.KEYTRAIL_OBJECT_LOCK_MODE
            params["ObjectLockRetainUntilDate"] = timezone.now() + dt.timedelta(days=settings.KEYTRAIL_OBJECT_LOCK_DAYS)
        return params

    def _refused(self, name: str, operation: str, exc: ClientError) -> EvidenceLocked:
        code = str(exc.response.get("Error", {}).get("Code", "unknown"))
        events.storage_change_refused(name=name, operation=operation, code=code)
        return EvidenceLocked(f"the object store refused to {operation} {name} ({code}): it is under retention")

    def _save(self, name, content):
        if not self._locked():
            return super()._save(name, content)
        # s3transfer (used by the parent) cannot send If-None-Match, so one PUT does the write;
        # S3 takes up to 5 GB that way, far above KEYTRAIL_PACK_UPLOAD_MAX_BYTES.
        cleaned = clean_name(name)
        key = self._normalize_name(cleaned)
        params = self._get_write_parameters(key, content)
        content.seek(0)
        try:
            self.bucket.meta.client.put_object(Bucket=self.bucket_name, Key=key, Body=ReadBytesWrapper(content), IfNoneMatch="*", **params)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"PreconditionFailed", "ConditionalRequestConflict"}:
                raise self._refused(name, "overwrite", exc) from exc
            raise
        return cleaned

    def delete(self, name):
        if not self._locked():
            return super().delete(name)
        key = self._normalize_name(clean_name(name))
        client = self.bucket.meta.client
        head = client.head_object(Bucket=self.bucket_name, Key=key)
        try:
            client.delete_object(Bucket=self.bucket_name, Key=key, VersionId=head["VersionId"])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"AccessDenied", "InvalidRequest"}:
                raise self._refused(name, "delete", exc) from exc
            raise
