"""The Celery application. Broker from CELERY_BROKER_URL; eager (no broker) when unset."""

import os
import threading

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("keytrail")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.worker_ready.connect
def _start_worker_heartbeat(sender=None, **kwargs):
    """Record ``worker:<name>`` every KEYTRAIL_HEARTBEAT_SECONDS from the worker's main process
    (/readyz: "a worker answered recently"), until the worker stops."""
    from django.conf import settings

    from apps.core import heartbeat

    name = f"worker:{getattr(sender, 'hostname', None) or 'unknown'}"
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            try:
                heartbeat.record(name)
            except Exception:  # Redis away for a moment: the next beat tries again; /readyz will say so
                pass
            stop.wait(settings.KEYTRAIL_HEARTBEAT_SECONDS)

    threading.Thread(target=loop, name="keytrail-heartbeat", daemon=True).start()
    signals.worker_shutdown.connect(lambda **kw: stop.set(), weak=False)
