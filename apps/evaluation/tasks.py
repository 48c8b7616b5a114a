from celery import shared_task

from apps.evaluation.models import Evaluation
from apps.evaluation.services import evaluation_run


@shared_task(name="evaluation.evaluate", acks_late=True)
def evaluate(collection_run_id: int | None = None, trigger: str = Evaluation.Trigger.COLLECTION) -> int:
    from apps.inventory.models import CollectionRun

    run = CollectionRun.objects.filter(pk=collection_run_id).first() if collection_run_id else None
    return evaluation_run(trigger=trigger, collection_run=run).pk


@shared_task(name="evaluation.evaluate_queued", acks_late=True)
def evaluate_queued(evaluation_id: int) -> int:
    """Run an evaluation queued by a person (``evaluation_request``); a redelivered message for an
    evaluation that has already started or finished is left alone."""
    claimed = Evaluation.objects.filter(pk=evaluation_id, state=Evaluation.State.RUNNING, progress__phase="queued").update(
        progress={"phase": "loading", "done": 0, "total": 0, "percent": 0}
    )
    if not claimed:
        return evaluation_id
    evaluation = Evaluation.objects.select_related("requested_by", "policy_version").get(pk=evaluation_id)
    return evaluation_run(queued=evaluation).pk
