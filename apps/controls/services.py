from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from guardian.shortcuts import assign_perm

from apps.accounts.roles import OBJECT_PERMISSIONS
from apps.accounts.sharing import object_share, object_unshare
from apps.audit import events
from apps.audit.services import diff
from apps.catalog.models import Requirement
from apps.controls.files import check_upload
from apps.controls.models import Control, ControlEvidence
from apps.core.errors import PermissionRefused, ValidationFailed
from apps.core.permissions import has_perm


def _require(actor, perm: str, obj=None) -> None:
    if not has_perm(actor, perm, obj):
        raise PermissionRefused(f"{actor} may not {perm.split('.', 1)[1].replace('_', ' ')}")


def _snapshot(control: Control) -> dict:
    return {
        "ref": control.ref,
        "title": control.title,
        "owner": control.owner.get_username() if control.owner_id else None,
        "narrative": control.narrative,
        "implementation_status": control.implementation_status,
        "test_frequency": control.test_frequency,
        "rule_ids": list(control.rule_ids or []),
        "requirements": sorted(control.requirements.values_list("ref", flat=True)) if control.pk else [],
    }


def _next_ref() -> str:
    last = Control.objects.filter(ref__startswith="CTL-").order_by("-id").values_list("ref", flat=True).first()
    try:
        number = int(last.split("-", 1)[1]) + 1 if last else 1
    except ValueError:
        number = Control.objects.count() + 1
    return f"CTL-{number:03d}"


def control_create(
    *,
    actor,
    title: str,
    owner,
    narrative: str,
    requirements: Iterable[Requirement],
    implementation_status: str = Control.Status.PLANNED,
    test_frequency: str = Control.Frequency.QUARTERLY,
    rule_ids: list[str] | None = None,
    ref: str = "",
) -> Control:
    """Create a control; the owner gets per-object change and evidence rights. Audited."""
    _require(actor, "controls.add_control")
    for attempt in range(3):
        try:
            with transaction.atomic():
                control = Control.objects.create(
                    ref=ref or _next_ref(),
                    title=title,
                    owner=owner,
                    narrative=narrative,
                    implementation_status=implementation_status,
                    test_frequency=test_frequency,
                    rule_ids=list(rule_ids or []),
                    created_by=actor,
                )
                control.requirements.set(list(requirements))
                for codename in OBJECT_PERMISSIONS["controls.control"]:
                    assign_perm(codename, owner, control)
                events.control_created(actor=actor, control=control, values=_snapshot(control))
                return control
        except IntegrityError:
            if ref or attempt == 2:
                raise ValidationFailed(f"A control with reference {ref or 'the next number'} already exists.") from None
    raise AssertionError("unreachable")


@transaction.atomic
def control_update(*, actor, control: Control, **values) -> Control:
    """Change a control's fields (any of title, owner, narrative, implementation_status,
    test_frequency, rule_ids, requirements). Records the diff; no-op if nothing changed."""
    _require(actor, "controls.change_control", control)
    control = Control.objects.select_for_update().get(pk=control.pk)
    before = _snapshot(control)
    requirements = values.pop("requirements", None)
    allowed = {"title", "owner", "narrative", "implementation_status", "test_frequency", "rule_ids"}
    unknown = set(values) - allowed
    if unknown:
        raise ValidationFailed(f"Unknown control fields: {', '.join(sorted(unknown))}")
    for field, value in values.items():
        setattr(control, field, value)
    if values:
        control.save(update_fields=[*values.keys(), "updated_at"])
    if requirements is not None:
        control.requirements.set(list(requirements))
    after = _snapshot(control)
    changes = diff(before, after)
    if changes:
        if "owner" in changes:
            for codename in OBJECT_PERMISSIONS["controls.control"]:
                assign_perm(codename, control.owner, control)
        events.control_updated(actor=actor, control=control, changes=changes)
    return control


@transaction.atomic
def control_evidence_attach(
    *, actor, control: Control, name: str, content: bytes, effective_date: dt.date, description: str = ""
) -> ControlEvidence:
    """Store a manual evidence file with its SHA-256, size and content type. Audited.

    Raises ValidationFailed for an empty, oversized or mistyped file; nothing is stored then.
    """
    _require(actor, "controls.attach_evidence", control)
    checked = check_upload(name=name, content=content, max_bytes=settings.KEYTRAIL_EVIDENCE_MAX_BYTES)
    evidence = ControlEvidence(
        control=control,
        original_name=checked.name,
        description=description,
        sha256=checked.sha256,
        size=checked.size,
        content_type=checked.content_type,
        effective_date=effective_date,
        uploaded_by=actor,
    )
    # Content-addressed path: the same bytes uploaded twice share one stored file.
    storage = ControlEvidence._meta.get_field("file").storage
    path = f"evidence/{checked.sha256[:2]}/{checked.sha256}"
    if storage.exists(path):
        evidence.file.name = path
    else:
        evidence.file.save(checked.sha256, ContentFile(checked.content), save=False)
    evidence.save()
    events.control_evidence_attached(actor=actor, evidence=evidence)
    return evidence


def control_evidence_open(*, actor, evidence: ControlEvidence):
    """Open an evidence file for download after checking its hash; records the download.

    Raises ValidationFailed if the stored bytes no longer match the recorded hash.
    """
    _require(actor, "controls.view_control", evidence.control)
    with evidence.file.open("rb") as fh:
        content = fh.read()
    if hashlib.sha256(content).hexdigest() != evidence.sha256:
        raise ValidationFailed("The stored file no longer matches its recorded SHA-256; it has been altered.")
    with transaction.atomic():
        events.control_evidence_downloaded(actor=actor, evidence=evidence)
    return content


def control_share(*, actor, control: Control, grantee, permissions: list[str]) -> None:
    """Grant ``grantee`` per-object permissions (e.g. view_control) on one control."""
    object_share(actor=actor, obj=control, grantee=grantee, permissions=permissions)


def control_unshare(*, actor, control: Control, grantee, permissions: list[str]) -> None:
    object_unshare(actor=actor, obj=control, grantee=grantee, permissions=permissions, protected_user_ids={control.owner_id})
