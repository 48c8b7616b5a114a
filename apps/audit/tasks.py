from celery import shared_task

from apps.audit.checkpoints import checkpoint_if_moved
from apps.audit.models import AuditCheckpoint


@shared_task(name="audit.checkpoint")
def checkpoint() -> int | None:
    """Sign the chain's head if it moved since the last checkpoint (beat, hourly). Returns the
    checkpoint's id, or None when there was nothing new. A refusal of the external target
    fails the task (and shows in the worker's log); the checkpoint is stored all the same."""
    created = checkpoint_if_moved(reason=AuditCheckpoint.Reason.INTERVAL)
    return created.pk if created else None
