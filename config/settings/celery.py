"""Celery: Redis as broker when CELERY_BROKER_URL is set, eager execution when not (the demo)."""

from config.settings.env import env

_BROKER = env.str("CELERY_BROKER_URL", default="")
# No broker configured: run tasks in the caller (the demo). The in-memory transport only keeps
# kombu quiet; it is named with a host because kombu warns "No hostname was supplied" otherwise.
EAGER_BROKER_URL = "memory://localhost/"
CELERY_BROKER_URL = _BROKER or EAGER_BROKER_URL
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or None
CELERY_TASK_ALWAYS_EAGER = not _BROKER
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True  # a worker killed mid-task leaves the message for another worker
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=30 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=25 * 60)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"

# --- Queues (docs/operations.md): each kind of work has its own queue, so a worker that serves
# only "collection" is never busy with a 60-second pack build. Beat's housekeeping (due
# collections, sweeps, heartbeats) goes to "default". Worker per queue:
#   celery -A config worker -Q collection -n collection@%h
#   celery -A config worker -Q evaluation,default -n evaluation@%h
#   celery -A config worker -Q packs -n packs@%h --concurrency 1
#   celery -A config worker -Q notifications -n notifications@%h
KEYTRAIL_QUEUES = ["default", "collection", "evaluation", "packs", "notifications"]
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "inventory.collect_unit": {"queue": "collection"},
    "evaluation.*": {"queue": "evaluation"},
    "reviews.verify_remediation": {"queue": "evaluation"},
    "evidence.build_pack": {"queue": "packs"},
    # Anything that tells people: reminders now, notification and webhook deliveries as they come
    # (tasks named "notifications.*"/"webhooks.*", or unnamed tasks in apps.notifications/apps.webhooks).
    "exceptions.send_reminders": {"queue": "notifications"},
    "reviews.send_reminders": {"queue": "notifications"},
    "notifications.*": {"queue": "notifications"},
    "webhooks.*": {"queue": "notifications"},
    "apps.notifications.tasks.*": {"queue": "notifications"},
    "apps.webhooks.tasks.*": {"queue": "notifications"},
}


def _limits(name: str, soft_minutes: int) -> dict:
    """Hard and soft time limits for one task type (the hard one a minute after the soft one)."""
    soft = env.int(f"KEYTRAIL_{name}_SOFT_TIME_LIMIT", default=soft_minutes * 60)
    return {"soft_time_limit": soft, "time_limit": env.int(f"KEYTRAIL_{name}_TIME_LIMIT", default=soft + 60)}


# Time limits per task type (seconds; each overridable from the environment). A collection unit
# past its soft limit fails with a clear error and its run goes on; a pack past its limit fails.
CELERY_TASK_ANNOTATIONS = {
    "inventory.collect_unit": _limits("COLLECTION", 20),
    "evaluation.evaluate": _limits("EVALUATION", 15),
    "reviews.verify_remediation": _limits("EVALUATION", 15),
    "evidence.build_pack": _limits("PACK", 60),
    "exceptions.send_reminders": _limits("NOTIFICATION", 5),
    "reviews.send_reminders": _limits("NOTIFICATION", 5),
    "core.heartbeat": {"soft_time_limit": 20, "time_limit": 30},
}

# At most this many collection units of one source run at once, across every worker (a Redis
# semaphore): one large AWS account cannot take every worker nor trip AWS's throttling. A unit
# that finds its source's slots taken is put back on the queue for a few seconds later.
KEYTRAIL_COLLECTION_PER_SOURCE_CONCURRENCY = env.int("KEYTRAIL_COLLECTION_PER_SOURCE_CONCURRENCY", default=2)

# Heartbeats for /readyz: beat sends core.heartbeat every KEYTRAIL_HEARTBEAT_SECONDS (it is run
# by a worker on "default"), and every worker records itself on the same interval. /readyz fails
# when either is older than KEYTRAIL_HEARTBEAT_MAX_AGE_SECONDS.
KEYTRAIL_HEARTBEAT_SECONDS = env.int("KEYTRAIL_HEARTBEAT_SECONDS", default=30)
KEYTRAIL_HEARTBEAT_MAX_AGE_SECONDS = env.int("KEYTRAIL_HEARTBEAT_MAX_AGE_SECONDS", default=180)
CELERY_BEAT_SCHEDULE = {
    "keytrail-heartbeat": {
        "task": "core.heartbeat",
        "schedule": float(KEYTRAIL_HEARTBEAT_SECONDS),
        "options": {"expires": KEYTRAIL_HEARTBEAT_SECONDS},
    },
}
