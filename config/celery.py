"""The Celery application. Broker from CELERY_BROKER_URL; eager (no broker) when unset."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("keytrail")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
