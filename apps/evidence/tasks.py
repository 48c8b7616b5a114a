import logging

from celery import shared_task

from apps.evidence.services import pack_build, pack_sweep_stale

logger = logging.getLogger(__name__)


@shared_task(name="evidence.build_pack", acks_late=True)
def build_pack(pack_pk: int) -> str:
    """Build one queued pack (a redelivered message finds it building or built and does nothing;
    a pack whose worker died is closed by ``sweep_stale_packs``)."""
    state = pack_build(pack_pk=pack_pk).state
    logger.info("pack %s %s", pack_pk, state)
    return state


@shared_task(name="evidence.sweep_stale_packs")
def sweep_stale_packs() -> int:
    return pack_sweep_stale()
