"""Health, readiness and metrics (docs/operations.md).

/healthz and /readyz answer anyone (a load balancer does not sign in) and say nothing secret.
/metrics answers a request that carries ``Authorization: Bearer <KEYTRAIL_METRICS_TOKEN>`` or
comes from an address in ``KEYTRAIL_METRICS_ALLOWED_IPS`` (addresses or networks); with
neither set, only from the machine itself (127.0.0.1, ::1)."""

from config.settings.env import env

# .strip(): a secret mounted as a file usually ends with a newline.
KEYTRAIL_METRICS_TOKEN = env.str("KEYTRAIL_METRICS_TOKEN", default="").strip()
KEYTRAIL_METRICS_ALLOWED_IPS = env.list("KEYTRAIL_METRICS_ALLOWED_IPS", default=[])
# Sources whose last successful collection is older than this are counted by
# keytrail_sources_not_collected_successfully (alert on it being above zero).
KEYTRAIL_METRICS_STALE_SOURCE_DAYS = env.int("KEYTRAIL_METRICS_STALE_SOURCE_DAYS", default=3)
# What each app reports, read from the database at scrape time, so the figures are the same
# whichever web process answers and survive restarts (dotted paths, loaded when scraped).
KEYTRAIL_METRICS_COLLECTORS = [
    "apps.inventory.metrics.collect",
    "apps.evaluation.metrics.collect",
    "apps.evidence.metrics.collect",
]
