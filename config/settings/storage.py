"""Where packs and manual evidence are stored, and how static files are served.

``KEYTRAIL_STORAGE=local`` (the default: the demo, the tests) keeps files under MEDIA_ROOT.
``KEYTRAIL_STORAGE=s3`` stores them in an S3-compatible bucket through django-storages; with
``KEYTRAIL_OBJECT_LOCK_MODE=COMPLIANCE`` every object is written with a retention date
``KEYTRAIL_OBJECT_LOCK_DAYS`` ahead, so nobody, keytrail and the bucket's owner included, can
delete or overwrite a stored version before then (docs/operations.md). Downloads are streamed
through keytrail's permission-checked views, audited as before; the bucket stays private.
"""

from config.settings.env import env

KEYTRAIL_STORAGE = env.str("KEYTRAIL_STORAGE", default="local")
KEYTRAIL_OBJECT_LOCK_MODE = env.str("KEYTRAIL_OBJECT_LOCK_MODE", default="")  # "", COMPLIANCE or GOVERNANCE
KEYTRAIL_OBJECT_LOCK_DAYS = env.int("KEYTRAIL_OBJECT_LOCK_DAYS", default=2557)  # seven years

_S3_OPTIONS = {
    "bucket_name": env.str("KEYTRAIL_S3_BUCKET", default=""),
    "location": env.str("KEYTRAIL_S3_PREFIX", default=""),
    "region_name": env.str("KEYTRAIL_S3_REGION", default="") or None,
    # Empty: AWS itself. Set for another S3-compatible store (MinIO, Ceph) or moto's server.
    "endpoint_url": env.str("KEYTRAIL_S3_ENDPOINT_URL", default="") or None,
    "default_acl": None,
    "querystring_auth": True,
    "querystring_expire": 60,
    # Names are content addresses (packs/ab/<sha256>.zip): an existing name already holds these bytes.
    "file_overwrite": True,
    "object_parameters": {"ServerSideEncryption": env.str("KEYTRAIL_S3_SSE", default="AES256")},
}

STORAGES = {
    "default": (
        {"BACKEND": "apps.audit.storage.EvidenceS3Storage", "OPTIONS": _S3_OPTIONS}
        if KEYTRAIL_STORAGE == "s3"
        else {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    ),
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
