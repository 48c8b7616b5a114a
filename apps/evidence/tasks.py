from celery import shared_task

from apps.evidence.services import pack_build, pack_sweep_stale


@shared_task(name="evidence.build_pack", acks_late=True)
def build_pack(pack_pk: int) -> str:
    """Build one queued pack (a redelivered message finds it building or built and does nothing;
    a pack whose worker died is closed by ``sweep_stale_packs``)."""
    return pack_build(pack_pk=pack_pk).state


@shared_task(name="evidence.sweep_stale_packs")
def sweep_stale_packs() -> int:
    return pack_sweep_stale()
