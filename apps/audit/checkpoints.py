"""Signed checkpoints of the audit chain's head: writing them, and reading them back as anchors.

The hash chain alone proves only that the rows agree with each other: whoever can write to
the table can edit a row and re-hash everything after it with :func:`apps.audit.chain.event_digest`,
delete a row and renumber, or drop the newest rows, and the chain still verifies. A
checkpoint records the head (sequence number, hash, when the head event occurred) signed
with an Ed25519 key that is **not in the database** (``KEYTRAIL_AUDIT_SIGNING_KEY``, by
default the pack-signing key), so a rewrite that changes the chain up to an anchored head
cannot produce a matching signed anchor. Checkpoints are written at intervals (the beat task
``audit.checkpoint``) and at every pack build; each pack's manifest embeds its anchor, and
each checkpoint can also be appended to a target outside the database
(``KEYTRAIL_AUDIT_ANCHOR_TARGET``, :mod:`apps.audit.anchor_targets`).

An *anchor* is the signed form: the canonical JSON payload's members plus ``signature``.
:func:`apps.audit.chain.verify_chain` checks the chain against anchors.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.audit.anchor_targets import write_anchor
from apps.audit.models import AuditCheckpoint, AuditEvent
from apps.core import signing
from apps.core.canonical import canonical_json
from apps.core.isotime import iso_utc

ANCHOR_FORMAT = "keytrail-audit-anchor/1"
PAYLOAD_KEYS = ("format", "seq", "head_hash", "head_at", "created_at", "reason", "reference")


def _key():
    configured = settings.KEYTRAIL_AUDIT_SIGNING_KEY or settings.KEYTRAIL_PACK_SIGNING_KEY
    setting = "KEYTRAIL_AUDIT_SIGNING_KEY" if settings.KEYTRAIL_AUDIT_SIGNING_KEY else "KEYTRAIL_PACK_SIGNING_KEY"
    return signing.private_key(configured_hex=configured, setting=setting, secret_key=settings.SECRET_KEY)


def public_key_hex() -> str:
    """The public half of the checkpoint key: what anchors are verified against by default."""
    return signing.public_hex(_key())


def checkpoint_if_moved(*, reason: str) -> AuditCheckpoint | None:
    """A checkpoint of the head unless the newest checkpoint already names it (the interval
    task: no new events, nothing to sign). Returns it, or None."""
    return _checkpoint(reason=reason, reference="", skip_if_unchanged=True)


def checkpoint_create(*, reason: str, reference: str = "") -> AuditCheckpoint:
    """Sign and store the chain's current head; append it to the external target when one is
    configured. Returns the checkpoint.

    Raises :class:`apps.audit.anchor_targets.AnchorTargetError` when the external target
    refuses the write (the checkpoint is stored; the caller decides whether that is fatal)."""
    created = _checkpoint(reason=reason, reference=reference, skip_if_unchanged=False)
    assert created is not None
    return created


def _checkpoint(*, reason: str, reference: str, skip_if_unchanged: bool) -> AuditCheckpoint | None:
    with transaction.atomic():
        head = AuditEvent.objects.order_by("-seq").only("seq", "hash", "occurred_at").first()
        seq, head_hash = (head.seq, head.hash) if head else (0, "0" * 64)
        if skip_if_unchanged:
            last = AuditCheckpoint.objects.order_by("-id").only("seq", "head_hash").first()
            if last is not None and (last.seq, last.head_hash) == (seq, head_hash):
                return None
        now = timezone.now()
        payload = {
            "format": ANCHOR_FORMAT,
            "seq": seq,
            "head_hash": head_hash,
            "head_at": iso_utc(head.occurred_at) if head else None,
            "created_at": iso_utc(now),
            "reason": reason,
            "reference": reference[:64],
        }
        text = canonical_json(payload)
        signature = signing.sign(_key(), text.encode("utf-8"))
        checkpoint = AuditCheckpoint.objects.create(
            seq=seq,
            head_hash=head_hash,
            head_at=head.occurred_at if head else None,
            created_at=now,
            reason=reason,
            reference=reference[:64],
            payload=text,
            key_id=signature["key_id"],
            public_key=signature["public_key"],
            signature=signature["value"],
        )
    write_anchor(anchor_of(checkpoint))
    return checkpoint


def anchor_of(checkpoint: AuditCheckpoint) -> dict[str, Any]:
    """The checkpoint as a self-contained signed anchor (JSON-ready)."""
    return {
        **json.loads(checkpoint.payload),
        "signature": {
            "algorithm": signing.ALGORITHM,
            "public_key": checkpoint.public_key,
            "key_id": checkpoint.key_id,
            "value": checkpoint.signature,
        },
    }


@dataclass(frozen=True)
class Anchor:
    """A signature-checked anchor: the head it names and where it came from."""

    seq: int
    head_hash: str
    head_at: str | None
    created_at: str
    label: str  # "checkpoint 12 (pack KT-…)", "pack KT-…", "anchors file line 3"


class AnchorInvalid(ValueError):
    """The anchor is malformed or its signature does not verify with the trusted key."""


def anchor_check(anchor: Any, *, public_key: str | None = None, label: str = "anchor") -> Anchor:
    """Check ``anchor``'s signature against ``public_key`` (default: this installation's
    checkpoint key, never the key the anchor names) and return what it asserts.

    Raises :class:`AnchorInvalid` saying why when malformed, unsigned, signed by another key or altered."""
    trusted = public_key or public_key_hex()
    if not isinstance(anchor, dict) or anchor.get("format") != ANCHOR_FORMAT:
        raise AnchorInvalid(f"{label}: not a keytrail audit anchor")
    try:
        payload = {k: anchor[k] for k in PAYLOAD_KEYS}
        seq, head_hash = payload["seq"], payload["head_hash"]
        sig = anchor["signature"]
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0 or not isinstance(head_hash, str) or not isinstance(sig, dict):
            raise TypeError
    except (KeyError, TypeError) as exc:
        raise AnchorInvalid(f"{label}: malformed anchor") from exc
    if sig.get("public_key") != trusted:
        raise AnchorInvalid(f"{label}: signed with an unknown key ({sig.get('key_id', 'none')}); expected key {signing.key_id(trusted)}")
    if not signing.verify(canonical_json(payload).encode("utf-8"), str(sig.get("value", "")), trusted):
        raise AnchorInvalid(f"{label}: bad signature: the anchor was altered or forged")
    return Anchor(seq=seq, head_hash=head_hash, head_at=payload["head_at"], created_at=str(payload["created_at"]), label=label)


def stored_anchors() -> list[dict[str, Any]]:
    """Every stored checkpoint as ``{"label", "anchor"}``, oldest first."""
    return [
        {
            "label": f"checkpoint {c.pk} ({c.reason}{' ' + c.reference if c.reference else ''}, {iso_utc(c.created_at)})",
            "anchor": anchor_of(c),
        }
        for c in AuditCheckpoint.objects.order_by("id")
    ]


class PackUnreadable(ValueError):
    """The file is not a pack whose anchor can be read."""


def anchor_from_pack(path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The ``audit_anchor`` of a pack zip's manifest, and the seq and hash of every event of
    its audit extract (pack.json), for checking against the chain.

    Raises :class:`PackUnreadable` for a file that is not a zip, has no single manifest, or
    whose manifest has no anchor (packs built before anchors existed)."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = [i.filename for i in zf.infolist()]
            for name in ("manifest.json", "pack.json"):
                if names.count(name) != 1:
                    raise PackUnreadable(f"the zip holds {names.count(name)} entries named {name}")
            manifest = json.loads(zf.read("manifest.json"))
            data = json.loads(zf.read("pack.json"))
    except (zipfile.BadZipFile, OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PackUnreadable(f"not a readable pack: {exc}") from exc
    anchor = manifest.get("audit_anchor") if isinstance(manifest, dict) else None
    if not anchor:
        raise PackUnreadable("the pack's manifest carries no audit anchor (built before anchors existed)")
    extract = data.get("audit_extract", {}) if isinstance(data, dict) else {}
    events = [{"seq": e.get("seq"), "hash": e.get("hash")} for e in extract.get("events", []) if isinstance(e, dict)]
    return anchor, events


def chain_verify(
    *, anchors: list[dict[str, Any]] | None = None, expect_head: str | None = None, expected_events: dict[int, str] | None = None
):
    """Verify the stored chain against every stored checkpoint and the extra ``anchors``
    (``{"label", "anchor"}``: a pack's, an anchors file's), each signature checked first.

    Returns a :class:`apps.audit.chain.ChainReport`; an anchor whose signature fails is a
    problem in it (a forged or altered checkpoint), and is not used."""
    from apps.audit.chain import verify_chain

    checked: list[Anchor] = []
    refused: list[str] = []
    for item in [*stored_anchors(), *(anchors or [])]:
        try:
            checked.append(anchor_check(item["anchor"], label=item["label"]))
        except AnchorInvalid as exc:
            refused.append(str(exc))
    report = verify_chain(
        AuditEvent.objects.order_by("seq").iterator(chunk_size=2000),
        expect_head=expect_head,
        anchors=checked,
        expected_events=expected_events,
    )
    if refused:
        report.problems.extend(refused)
        report.ok, report.reason = False, report.reason or refused[0]
    return report
