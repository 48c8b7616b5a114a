from celery import shared_task

from apps.evidence.services import pack_build


@shared_task(name="evidence.build_pack", acks_late=True)
def build_pack(pack_pk: int) -> str:
    """Build one queued pack (a redelivered message finds it building or built and does nothing)."""
    return pack_build(pack_pk=pack_pk).state
