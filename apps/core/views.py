from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache

from apps.core import broker, heartbeat


@never_cache
def healthz(request):
    """The process is up and answering (no dependency is checked: a balancer restarts on this)."""
    return HttpResponse("ok", content_type="text/plain")


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


@never_cache
def readyz(request):
    """Ready for traffic: the database answers, and (with a broker) Redis answers, a worker
    recorded a heartbeat and beat sent one recently. 200 when all pass, else 503.

    The answer names each check and its state, never a host, URL or error text."""
    checks: dict[str, str] = {}
    try:
        checks["database"] = _check_database()
    except Exception as exc:  # any failure means not ready; its class says which kind
        checks["database"] = f"failed ({type(exc).__name__})"
    r = broker.client()
    if r is None:
        checks["broker"] = checks["worker"] = checks["beat"] = "not used (tasks run in the web process)"
    else:
        try:
            r.ping()
            checks["broker"] = "ok"
            ages = heartbeat.ages()
        except Exception as exc:
            checks["broker"] = f"failed ({type(exc).__name__})"
            ages = {}
        limit = settings.KEYTRAIL_HEARTBEAT_MAX_AGE_SECONDS
        workers = [age for name, age in ages.items() if name.startswith("worker:")]
        if checks["broker"] == "ok":
            checks["worker"] = "ok" if workers and min(workers) <= limit else f"no worker heartbeat in {limit} s"
            beat = ages.get(heartbeat.BEAT)
            checks["beat"] = "ok" if beat is not None and beat <= limit else f"no beat heartbeat in {limit} s"
        else:
            checks["worker"] = checks["beat"] = "unknown (broker unreachable)"
    ready = all(v == "ok" or v.startswith("not used") for v in checks.values())
    return JsonResponse({"status": "ready" if ready else "not ready", "checks": checks}, status=200 if ready else 503)
