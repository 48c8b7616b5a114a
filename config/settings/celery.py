"""Celery: Redis as broker when CELERY_BROKER_URL is set, eager execution when not (the demo)."""

from config.settings.env import env

_BROKER = env.str("CELERY_BROKER_URL", default="")
# No broker configured: run tasks in the caller (the demo). "memory://" only keeps kombu quiet.
CELERY_BROKER_URL = _BROKER or "memory://"
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
# E-mails and webhooks wait on other people's servers: their own queue, so a slow receiver never
# holds up collection or evaluation (run a worker with `-Q celery,notifications`).
CELERY_TASK_ROUTES = {"notifications.*": {"queue": "notifications"}}
