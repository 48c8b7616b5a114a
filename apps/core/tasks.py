from celery import shared_task

from apps.core import heartbeat


@shared_task(name="core.heartbeat", ignore_result=True)
def beat_heartbeat() -> None:
    """Sent by beat on a fixed interval: running it proves beat is sending and a worker on the
    default queue is taking work (/readyz)."""
    heartbeat.record(heartbeat.BEAT)
