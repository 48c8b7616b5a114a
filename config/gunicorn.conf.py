"""gunicorn's configuration for keytrail (`gunicorn -c config/gunicorn.conf.py config.wsgi`).

Every value can be overridden from the environment (GUNICORN_*) or the command line."""

import os
import tempfile

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# Sync workers: keytrail's requests are short database reads; the slow work (collection, packs)
# is in Celery. Two per core plus one is gunicorn's own rule of thumb.
workers = int(os.environ.get("GUNICORN_WORKERS", str(2 * (os.cpu_count() or 1) + 1)))
worker_class = "sync"
# A pack download or an upload of manual evidence streams for a while; nothing should take longer.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
# Recycle workers now and then, so a slow leak in a library cannot grow for ever.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "200"))
# Headers from the balancer (X-Forwarded-Proto) are trusted from these addresses only.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
# Access log: to stdout, one line per request, with the request id keytrail answered with.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms request_id=%({x-request-id}o)s'
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s %(process)d",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger", "process": "pid"},
        }
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}},
    "loggers": {
        "gunicorn.error": {"handlers": ["console"], "level": loglevel.upper(), "propagate": False},
        "gunicorn.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}

# Request-latency metrics from every worker process are added up at /metrics (prometheus-client's
# multiprocess mode): each process writes its samples under this directory, emptied at start.
_metrics_dir = os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", os.path.join(tempfile.gettempdir(), "keytrail-prometheus"))

# Imported here, in the master at load, never inside a hook: ``child_exit`` runs in the master's
# SIGCHLD handler, so two workers exiting together (a SIGTERM to the process group) ran it
# re-entrantly, and the second run of a first-time import found prometheus_client half
# initialised ("cannot import name 'Metric' from partially initialized module"): an ImportError
# out of the halt, and the master exited 1 instead of 0.
from prometheus_client import multiprocess  # noqa: E402 - needs PROMETHEUS_MULTIPROC_DIR set above


def on_starting(server):
    os.makedirs(_metrics_dir, exist_ok=True)
    for name in os.listdir(_metrics_dir):
        if name.endswith(".db"):
            os.remove(os.path.join(_metrics_dir, name))


def child_exit(server, worker):
    multiprocess.mark_process_dead(worker.pid)
