from celery import shared_task

from apps.evaluation.models import Evaluation
from apps.evaluation.services import evaluation_run


@shared_task(name="evaluation.evaluate", acks_late=True)
def evaluate(collection_run_id: int | None = None, trigger: str = Evaluation.Trigger.COLLECTION) -> int:
    from apps.inventory.models import CollectionRun

    run = CollectionRun.objects.filter(pk=collection_run_id).first() if collection_run_id else None
    return evaluation_run(trigger=trigger, collection_run=run).pk
