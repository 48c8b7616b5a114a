"""Static files for production: whitenoise's hashed, pre-compressed storage."""

from django.conf import settings
from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    """Hashed names (far-future caching) and a gzip copy of each text file beside it.

    Brotli copies only when KEYTRAIL_STATIC_BROTLI is on: the Swagger UI and ReDoc bundles make
    them cost about 45 CPU-seconds per `collectstatic` against 3 for gzip, for files an
    internal tool's users download once per release (docs/adr/0008-production-serving.md)."""

    def create_compressor(self, **kwargs):
        return super().create_compressor(use_brotli=settings.KEYTRAIL_STATIC_BROTLI, **kwargs)
