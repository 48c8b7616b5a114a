"""Verifying remediation from what collections saw (never from a click).

After every collection run that finishes with at least one successful unit, each open,
verified or reopened remediation whose credential lies in a scope that run collected
successfully, and whose snapshot was taken after the decision, is checked:

- revoke: verified when the credential is gone or deactivated; a verified revoke reopens
  when the credential is present and enabled again.
- rotate, access keys: verified when the old key is gone or inactive and the identity has a
  key of the same type created after the decision; reopens if the old key comes back active.
- rotate, secrets and passwords: verified when the last rotation/change is after the decision
  (or the credential is gone).

Every change writes a RemediationEvent (with the run as evidence) and an audit event in
one transaction. Running twice for the same run changes nothing (idempotent).
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.audit import events
from apps.core import pipeline
from apps.inventory.models import CollectionUnit, Credential, Snapshot
from apps.reviews.models import Remediation, RemediationEvent

KEY_TYPES = {Credential.Type.ACCESS_KEY, Credential.Type.ROOT_ACCESS_KEY}


def _gone(c: Credential) -> bool:
    return c.disappeared_at is not None or c.enabled is False


def _outcome(r: Remediation, c: Credential) -> tuple[str, str] | None:
    """(new state, note) or None when the state stands."""
    if r.action == "revoke":
        if _gone(c):
            return (
                (Remediation.State.VERIFIED, "credential gone" if c.disappeared_at else "credential deactivated")
                if r.state != Remediation.State.VERIFIED
                else None
            )
        return (Remediation.State.REOPENED, "credential present and enabled again") if r.state == Remediation.State.VERIFIED else None
    if c.credential_type in KEY_TYPES:
        replaced = (
            c.identity_id is not None
            and Credential.objects.filter(
                identity_id=c.identity_id,
                credential_type=c.credential_type,
                created_at__gt=r.decided_at,
                disappeared_at__isnull=True,
            )
            .exclude(pk=c.pk)
            .exists()
        )
        if _gone(c) and replaced:
            return (
                (Remediation.State.VERIFIED, "new key created after the decision; old key gone or inactive")
                if r.state != Remediation.State.VERIFIED
                else None
            )
        if r.state == Remediation.State.VERIFIED and not _gone(c):
            return Remediation.State.REOPENED, "the old key is active again"
        return None
    changed = max([t for t in (c.last_rotated_at, c.last_changed_at) if t] or [None], default=None)
    if r.state != Remediation.State.VERIFIED and (c.disappeared_at or (changed and changed > r.decided_at)):
        return (
            Remediation.State.VERIFIED,
            "credential gone" if c.disappeared_at else f"rotated at {changed:%Y-%m-%d %H:%M} UTC, after the decision",
        )
    return None


def remediation_verify(*, run_id: int) -> dict[str, int]:
    """Check the remediation the run can speak to. Returns counts of transitions by new state."""
    units = list(
        CollectionUnit.objects.filter(run_id=run_id, status=CollectionUnit.Status.SUCCEEDED).values_list("source_id", "scope", "pk")
    )
    if not units:
        return {}
    taken = dict(Snapshot.objects.filter(unit_id__in=[u[2] for u in units]).values_list("unit_id", "taken_at"))
    scope_time = {(s, scope): taken.get(pk) for s, scope, pk in units}
    where = Q()
    for source_id, scope in scope_time:
        where |= Q(credential__source_id=source_id, credential__scope=scope)
    counts: dict[str, int] = {}
    candidates = Remediation.objects.filter(where).select_related("credential").order_by("pk")
    for r in candidates:
        seen_at = scope_time.get((r.credential.source_id, r.credential.scope))
        if seen_at is None or seen_at <= r.decided_at:
            continue  # this collection looked before the decision: it proves nothing
        with transaction.atomic():
            r = Remediation.objects.select_for_update().select_related("credential").get(pk=r.pk)
            outcome = _outcome(r, r.credential)
            if outcome is None:
                continue
            state, note = outcome
            before = r.state
            r.state = state
            if state == Remediation.State.VERIFIED:
                r.verified_at, r.verified_by_run_id = seen_at, run_id
            else:
                r.verified_at, r.verified_by_run_id = None, None
            r.save(update_fields=["state", "verified_at", "verified_by_run"])
            RemediationEvent.objects.create(remediation=r, at=timezone.now(), state=state, run_id=run_id, note=note)
            events.remediation_transition(remediation=r, from_state=before, run_id=run_id, note=note)
            if state == Remediation.State.REOPENED:
                pipeline.publish("remediation.reopened", remediation_id=r.pk)  # its owner is told (config/pipeline.py)
            counts[state] = counts.get(state, 0) + 1
    return counts
