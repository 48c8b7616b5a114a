"""The access-review part of the evidence pack, as of a date: plain JSON-ready dicts.

Contract (the evidence pack calls these):

- ``campaigns_for_pack(as_of=..., source_ids=None)``: each campaign started at or before
  ``as_of`` with its state then, its frozen population and hash, its items (decisions made
  at or before ``as_of`` only; later ones show as undecided) and its remediation (state as
  of ``as_of`` from the append-only event log, with the verifying collection run).
  ``source_ids`` restricts items and remediation to those sources (the population count
  and hash stay the campaign's, since they cover the whole population).
- ``decisions_for_credentials(credential_ids, as_of=...)``: per credential, the review
  decisions and remediation made at or before ``as_of``.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from django.db.models import Q

from apps.reviews.models import Campaign, Remediation, RemediationEvent, ReviewItem


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def _user(user) -> str | None:
    return user.get_username() if user is not None else None


def campaign_state_as_of(campaign: Campaign, as_of: datetime) -> str:
    if campaign.signed_off_at and campaign.signed_off_at <= as_of:
        return Campaign.State.SIGNED_OFF
    if campaign.cancelled_at and campaign.cancelled_at <= as_of:
        return Campaign.State.CANCELLED
    return Campaign.State.ACTIVE


def _item_dict(item: ReviewItem, as_of: datetime) -> dict:
    decided = item.decided_at is not None and item.decided_at <= as_of
    return {
        "id": item.pk, "credential_id": item.credential_id, "identity_id": item.identity_id, "subject": item.subject,
        "source_id": item.source_id, "facts": item.facts,
        # The reviewer now; reassignments after as_of are rare and in the item's history.
        "reviewer": _user(item.reviewer),
        "decision": item.decision if decided else None, "justification": item.justification if decided else "",
        "decided_at": _iso(item.decided_at) if decided else None, "decided_by": _user(item.decided_by) if decided else None,
        "flagged": item.flagged if decided else False,
    }


def _remediation_dict(r: Remediation, events: list[RemediationEvent], as_of: datetime) -> dict | None:
    past = [e for e in events if e.at <= as_of]
    if not past:
        return None
    state = past[-1].state
    verified = next((e for e in reversed(past) if e.state == Remediation.State.VERIFIED), None) if state == Remediation.State.VERIFIED else None
    return {
        "id": r.pk, "item_id": r.item_id, "credential_id": r.credential_id, "action": r.action, "owner": _user(r.owner),
        "due_date": r.due_date.isoformat(), "state": state,
        "verified_at": _iso(verified.at) if verified else None, "verified_by_run_id": verified.run_id if verified else None,
        "events": [{"at": _iso(e.at), "state": e.state, "run_id": e.run_id, "note": e.note} for e in past],
    }


def _remediation_by_item(item_filter: Q, as_of: datetime) -> dict[int, dict]:
    remediations = list(Remediation.objects.filter(item_filter, decided_at__lte=as_of).select_related("owner"))
    events: dict[int, list[RemediationEvent]] = defaultdict(list)
    for e in RemediationEvent.objects.filter(remediation__in=[r.pk for r in remediations]).order_by("at", "pk"):
        events[e.remediation_id].append(e)
    out = {}
    for r in remediations:
        d = _remediation_dict(r, events[r.pk], as_of)
        if d:
            out[r.item_id] = d
    return out


def campaigns_for_pack(*, as_of: datetime, source_ids: list[int] | None = None) -> list[dict]:
    campaigns = (Campaign.objects.filter(started_at__isnull=False, started_at__lte=as_of)
                 .select_related("signed_off_by").order_by("started_at", "pk"))
    result = []
    for c in campaigns:
        items_qs = c.items.select_related("reviewer", "decided_by").order_by("pk")
        if source_ids is not None:
            items_qs = items_qs.filter(source_id__in=source_ids)
        items = list(items_qs)
        item_filter = Q(item__campaign=c) & (Q(item__source_id__in=source_ids) if source_ids is not None else Q())
        remediation = _remediation_by_item(item_filter, as_of)
        signed = c.signed_off_at is not None and c.signed_off_at <= as_of
        result.append({
            "id": c.pk, "name": c.name, "state": campaign_state_as_of(c, as_of), "scope": c.scope,
            "started_at": _iso(c.started_at), "due_date": c.due_date.isoformat(),
            "signed_off_at": _iso(c.signed_off_at) if signed else None, "signed_off_by": _user(c.signed_off_by) if signed else None,
            "population_count": c.population_count, "population_hash": c.population_hash,
            "items": [_item_dict(i, as_of) for i in items],
            "remediation": [remediation[i.pk] for i in items if i.pk in remediation],
        })
    return result


def decisions_for_credentials(credential_ids, *, as_of: datetime) -> dict[int, list[dict]]:
    """``{credential_id: [{"campaign_id", "campaign", "item_id", "decision", "justification",
    "decided_at", "decided_by", "remediation": {...} | None}]}`` for decisions at or before as_of."""
    ids = list(credential_ids)
    items = list(ReviewItem.objects.filter(credential_id__in=ids, decided_at__isnull=False, decided_at__lte=as_of)
                 .select_related("campaign", "decided_by").order_by("decided_at", "pk"))
    remediation = _remediation_by_item(Q(item__in=[i.pk for i in items]), as_of)
    out: dict[int, list[dict]] = defaultdict(list)
    for i in items:
        out[i.credential_id].append({
            "campaign_id": i.campaign_id, "campaign": i.campaign.name, "item_id": i.pk, "decision": i.decision,
            "justification": i.justification, "decided_at": _iso(i.decided_at), "decided_by": _user(i.decided_by),
            "flagged": i.flagged, "remediation": remediation.get(i.pk),
        })
    return dict(out)
