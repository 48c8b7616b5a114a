"""Engagements and evidence packs: every state change, each with its audit event.

A pack is requested (queued, audited, the build task enqueued on commit), built by a Celery
worker (gather → render → manifest → zip, with visible progress), stored under its SHA-256
and never changed again. Downloads re-hash the stored zip and are audited.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
import shutil
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from apps.accounts.sharing import object_share, object_unshare
from apps.audit import events
from apps.audit.checkpoints import anchor_of, checkpoint_create
from apps.audit.models import AuditCheckpoint
from apps.audit.selectors import audit_event_count_by
from apps.core.errors import PermissionRefused, RateLimited, ValidationFailed
from apps.core.isotime import iso_utc
from apps.core.permissions import has_perm
from apps.evidence.builder import build_files
from apps.evidence.gather import default_seed, gather
from apps.evidence.manifest import VerifyReport, sha256_file, verify_zip
from apps.evidence.models import Engagement, Pack, pack_upload_to

logger = logging.getLogger(__name__)

VIEW = "evidence.view_engagement"
ADD = "evidence.add_engagement"
BUILD = "evidence.build_pack"


def _require(actor, perm: str, obj=None) -> None:
    if not has_perm(actor, perm, obj):
        raise PermissionRefused(f"{actor} may not {perm.split('.', 1)[1].replace('_', ' ')}")


@transaction.atomic
def engagement_create(*, actor, name: str, period_start: dt.date, period_end: dt.date, sources=(), requirements=()) -> Engagement:
    """Create an engagement; no sources (requirements) selected means all of them. Audited."""
    _require(actor, ADD)
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("An engagement needs a name.")
    if period_end < period_start:
        raise ValidationFailed("The audit period ends before it starts.")
    engagement = Engagement.objects.create(name=name[:200], period_start=period_start, period_end=period_end, created_by=actor)
    engagement.sources.set(list(sources))
    engagement.requirements.set(list(requirements))
    events.engagement_created(
        actor=actor,
        engagement=engagement,
        values={
            "name": engagement.name,
            "period_start": period_start.isoformat(),
            "period_end": period_end.isoformat(),
            "sources": sorted(s.name for s in sources) or "all",
            "requirements": sorted(r.ref for r in requirements) or "all",
        },
    )
    return engagement


def engagement_share(*, actor, engagement: Engagement, grantee) -> None:
    """Share an engagement (and so its packs) with an auditor."""
    object_share(actor=actor, obj=engagement, grantee=grantee, permissions=["view_engagement"])


def engagement_unshare(*, actor, engagement: Engagement, grantee) -> None:
    object_unshare(actor=actor, obj=engagement, grantee=grantee, permissions=["view_engagement"])


def _new_pack_id(as_of: dt.datetime) -> str:
    return f"KT-{as_of:%Y%m%d}-{secrets.token_hex(4).upper()}"


def pack_request(
    *, actor, engagement: Engagement, as_of: dt.datetime | None = None, sample_size: int = 25, sample_seed: int | None = None
) -> Pack:
    """Queue a pack build as of ``as_of`` (default now); the task starts after commit. Audited.

    Raises ValidationFailed for an as-of time in the future or a sample size out of range."""
    _require(actor, BUILD, engagement)
    now = timezone.now()
    as_of = as_of or now
    if timezone.is_naive(as_of):
        raise ValidationFailed("The as-of time needs a time zone.")
    if as_of > now:
        raise ValidationFailed("A pack cannot be built as of a time in the future.")
    if not 1 <= sample_size <= settings.KEYTRAIL_PACK_SAMPLE_MAX:
        raise ValidationFailed(f"The sample size must be between 1 and {settings.KEYTRAIL_PACK_SAMPLE_MAX}.")
    if sample_seed is not None and not 0 <= sample_seed < 2**63:
        raise ValidationFailed("The sample seed must be a non-negative integer below 2^63.")
    seed = default_seed(engagement_id=engagement.pk, as_of=as_of) if sample_seed is None else sample_seed
    for attempt in range(3):
        try:
            with transaction.atomic():
                pack = Pack.objects.create(
                    engagement=engagement,
                    pack_id=_new_pack_id(as_of),
                    as_of=as_of,
                    sample_size=sample_size,
                    sample_seed=seed,
                    built_by=actor,
                )
                events.pack_requested(actor=actor, pack=pack)
                transaction.on_commit(lambda pack_id=pack.pk: _enqueue(pack_id))
                return pack
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _enqueue(pack_pk: int) -> None:
    from apps.evidence.tasks import build_pack

    build_pack.delay(pack_pk)


def _set_progress(pack_pk: int, percent: int, stage: str) -> None:
    # Outside any transaction, so the page polling the pack sees it at once.
    Pack.objects.filter(pk=pack_pk, state=Pack.State.BUILDING).update(progress=percent, stage=stage[:80])


def pack_build(*, pack_pk: int) -> Pack:
    """Build a queued pack. Idempotent for redelivery: a pack already building or finished is
    left alone. On any error the pack is marked failed (audited) and the error re-raised."""
    claimed = Pack.objects.filter(pk=pack_pk, state=Pack.State.QUEUED).update(
        state=Pack.State.BUILDING, started_at=timezone.now(), progress=1, stage="starting"
    )
    pack = Pack.objects.select_related("engagement", "built_by").get(pk=pack_pk)
    if not claimed:
        return pack
    workdir = Path(tempfile.mkdtemp(prefix=f"keytrail-pack-{pack.pack_id}-"))
    try:
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        data = gather(
            engagement=pack.engagement,
            as_of=pack.as_of,
            sample_size=pack.sample_size,
            sample_seed=pack.sample_seed,
            progress=lambda p, s: _set_progress(pack.pk, p, s),
        )
        timings["gather"] = round(time.perf_counter() - t0, 3)
        meta = {
            "pack_id": pack.pack_id,
            "engagement": {"id": pack.engagement_id, "name": pack.engagement.name},
            "as_of": iso_utc(pack.as_of),
            "built_at": iso_utc(timezone.now()),
            "built_by": pack.built_by.get_username(),
            "keytrail_version": settings.KEYTRAIL_VERSION,
            "sample": {"size": pack.sample_size, "seed": pack.sample_seed},
            # The chain's head signed now: who later rewrites the trail cannot match it.
            "audit_anchor": anchor_of(checkpoint_create(reason=AuditCheckpoint.Reason.PACK, reference=pack.pack_id)),
        }
        built = build_files(data=data, workdir=workdir, meta=meta, progress=lambda p, s: _set_progress(pack.pk, p, s))
        timings.update(built.timings)
        digest = sha256_file(built.zip_path)
        pack.sha256 = digest
        path = pack_upload_to(pack, "")
        if not default_storage.exists(path):
            with open(built.zip_path, "rb") as fh:
                stored = default_storage.save(path, File(fh))
            if stored != path:
                raise RuntimeError(f"storage stored the pack as {stored}, not {path}")
        with transaction.atomic():
            pack = Pack.objects.select_for_update().get(pk=pack.pk)
            if pack.state != Pack.State.BUILDING:
                # The stale-pack sweeper declared this build lost meanwhile; its verdict stands
                # (a finished pack never changes). The stored zip is orphaned, not referenced.
                logger.warning("pack %s finished building after it was recorded %s; not changed", pack.pack_id, pack.state)
                return pack
            pack.file.name = path
            pack.sha256 = digest
            pack.size = built.zip_path.stat().st_size
            pack.pack_hash = built.manifest["pack_hash"]
            pack.data_sha256 = built.manifest["files"]["pack.json"]["sha256"]
            pack.file_hashes = {name: f["sha256"] for name, f in built.manifest["files"].items()}
            pack.timings = {**timings, "total": round(sum(timings.values()), 3), "sizes": built.sizes}
            pack.state, pack.progress, pack.stage, pack.finished_at = Pack.State.SUCCEEDED, 100, "done", timezone.now()
            pack.save()
            events.pack_built(pack=pack)
        return pack
    except Exception as exc:
        with transaction.atomic():
            failed = Pack.objects.select_for_update().get(pk=pack_pk)
            if failed.state != Pack.State.BUILDING:
                raise
            failed.state, failed.error, failed.finished_at, failed.stage = (
                Pack.State.FAILED,
                f"{type(exc).__name__}: {exc}"[:2000],
                timezone.now(),
                "failed",
            )
            failed.save()
            events.pack_failed(pack=failed, error=failed.error)
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


WORKER_LOST = (
    "worker lost: the worker building this pack stopped before finishing (or the build never started); "
    "nothing was stored; build the pack again"
)


def pack_sweep_stale(*, older_than: dt.timedelta | None = None) -> int:
    """Fail packs left queued or building by a worker that died. Returns how many.

    A build's message is acknowledged late, so a killed worker's message is delivered again,
    but the redelivery finds the pack ``building`` and cannot tell a dead builder from a
    live one: it leaves it alone. This sweep (a beat task) closes such packs after
    ``KEYTRAIL_PACK_STALE_MINUTES``, audited as ``pack.failed``; building again makes a new pack."""
    if older_than is None:
        older_than = dt.timedelta(minutes=settings.KEYTRAIL_PACK_STALE_MINUTES)
    limit = timezone.now() - older_than
    stale = Q(state=Pack.State.BUILDING, started_at__lt=limit) | Q(state=Pack.State.QUEUED, created_at__lt=limit)
    swept = 0
    for pk in Pack.objects.filter(stale).values_list("pk", flat=True):
        with transaction.atomic():
            pack = Pack.objects.select_for_update().get(pk=pk)
            if pack.state not in (Pack.State.QUEUED, Pack.State.BUILDING):
                continue
            pack.state, pack.error, pack.finished_at, pack.stage = Pack.State.FAILED, WORKER_LOST, timezone.now(), "failed"
            pack.save()
            events.pack_failed(pack=pack, error=pack.error)
            swept += 1
    return swept


def _stored_sha256(pack: Pack) -> str:
    h = hashlib.sha256()
    with pack.file.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def pack_open(*, actor, pack: Pack):
    """The stored zip, opened for reading, after checking its hash; records the download.

    Raises ValidationFailed when the pack is not built or its stored bytes no longer match."""
    _require(actor, VIEW, pack.engagement)
    if pack.state != Pack.State.SUCCEEDED:
        raise ValidationFailed("This pack has not been built.")
    if _stored_sha256(pack) != pack.sha256:
        raise ValidationFailed("The stored pack no longer matches its recorded SHA-256; it has been altered.")
    with transaction.atomic():
        events.pack_downloaded(actor=actor, pack=pack)
    return pack.file.open("rb")


def _upload_rate_check(actor) -> None:
    """At most KEYTRAIL_PACK_VERIFY_UPLOADS_PER_WINDOW upload checks per user per window: each
    reads an upload of up to KEYTRAIL_PACK_UPLOAD_MAX_BYTES. Counted on the audit trail, where
    every check is recorded, so the limit holds across processes. Raises RateLimited."""
    window = settings.KEYTRAIL_PACK_VERIFY_WINDOW_SECONDS
    since = timezone.now() - dt.timedelta(seconds=window)
    done = audit_event_count_by(actor=actor, event_type="pack.verified", since=since, uploaded_only=True)
    if done >= settings.KEYTRAIL_PACK_VERIFY_UPLOADS_PER_WINDOW:
        raise RateLimited(
            f"You have checked {done} uploaded packs in the last {window // 60} minutes, the most allowed; try again later.",
            retry_after=window,
        )


def pack_verify(*, actor, pack: Pack | None = None, upload=None, upload_name: str = "") -> VerifyReport:
    """Verify a stored pack or an uploaded zip against its manifest. Recorded (``pack.verified``).

    Raises RateLimited when ``actor`` has checked too many uploads lately."""
    if pack is not None:
        _require(actor, VIEW, pack.engagement)
        if pack.state != Pack.State.SUCCEEDED:
            raise ValidationFailed("This pack has not been built.")
        with pack.file.open("rb") as fh:
            report = verify_zip(fh)
        if _stored_sha256(pack) != pack.sha256:
            report.fail("the stored zip no longer matches the SHA-256 recorded when it was built")
    else:
        _upload_rate_check(actor)
        report = verify_zip(upload)
        # Name the pack the upload claims to be, when the user may see it.
        claimed = Pack.objects.filter(pack_id=str(report.manifest.get("pack_id", ""))[:40]).select_related("engagement").first()
        if claimed is not None and has_perm(actor, VIEW, claimed.engagement):
            pack = claimed
    events.pack_verified(actor=actor, pack=pack, ok=report.ok, problems=report.problems, uploaded_name=upload_name)
    return report
