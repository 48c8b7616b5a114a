"""Audit events: engagements and evidence packs. One function per event type (see the package)."""

from __future__ import annotations

from apps.audit.services import audit_record


# evidence packs -----------------------------------------------------------
def engagement_created(*, actor, engagement, values: dict) -> None:
    audit_record(event_type="engagement.created", actor=actor, target=engagement, changes={k: [None, v] for k, v in values.items()})


def pack_requested(*, actor, pack) -> None:
    audit_record(
        event_type="pack.requested",
        actor=actor,
        target=pack,
        changes={
            "engagement": pack.engagement_id,
            "as_of": pack.as_of.isoformat(),
            "sample_size": pack.sample_size,
            "sample_seed": pack.sample_seed,
        },
    )


def pack_built(*, pack) -> None:
    audit_record(
        event_type="pack.built",
        actor_label="system:worker",
        target=pack,
        changes={
            "engagement": pack.engagement_id,
            "sha256": pack.sha256,
            "pack_hash": pack.pack_hash,
            "size": pack.size,
            "seconds": (pack.timings or {}).get("total"),
        },
    )


def pack_failed(*, pack, error: str) -> None:
    audit_record(
        event_type="pack.failed",
        actor_label="system:worker",
        target=pack,
        changes={"engagement": pack.engagement_id, "error": error[:1000]},
    )


def pack_downloaded(*, actor, pack) -> None:
    audit_record(event_type="pack.downloaded", actor=actor, target=pack, changes={"engagement": pack.engagement_id, "sha256": pack.sha256})


def pack_verified(*, actor, pack, ok: bool, problems: list[str], uploaded_name: str = "") -> None:
    """A verification changes nothing; it is recorded so an auditor's checks are on the trail."""
    audit_record(
        event_type="pack.verified",
        actor=actor,
        target=pack if pack is not None else None,
        changes={"ok": ok, "problems": problems[:20], "uploaded": uploaded_name[:200]},
        require_transaction=False,
    )
