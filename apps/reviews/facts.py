"""What the access reviews tell the evaluation about each credential (9.2.4.19): its latest
decision in a signed-off campaign and its overdue remediation. Plugged into the evaluation's
facts through ``settings.KEYTRAIL_REVIEW_FACTS`` (config/pipeline.py)."""

from __future__ import annotations

from datetime import datetime

from apps.core.rows import id_set
from apps.evaluation.rules.base import CredentialFacts, ReviewFact
from apps.reviews.models import Campaign, Remediation, ReviewItem


def attach_reviews(credentials: list[CredentialFacts], *, now: datetime, source_ids: list[int] | None = None) -> None:
    """Each credential's latest decision in a signed-off access review (a person's decision:
    items the campaign's deadline rule decided are flagged and do not count), and its
    revoke/rotate remediation past the due date that no collection has verified. Two queries,
    over the present credentials of ``source_ids`` (the whole inventory), or over
    ``credentials`` by id when no sources are given (one credential's page)."""
    by_id = {c.id: c for c in credentials}
    whose = (
        {"credential__source_id__in": source_ids, "credential__disappeared_at__isnull": True}
        if source_ids is not None
        else {"credential_id__in": id_set(list(by_id))}
    )
    decided = ReviewItem.objects.filter(
        campaign__state=Campaign.State.SIGNED_OFF, flagged=False, decided_at__isnull=False, **whose
    ).values_list("credential_id", "campaign__name", "decision", "decided_at")
    for credential_id, campaign, decision, decided_at in decided.iterator(chunk_size=5000):
        c = by_id.get(credential_id)
        if c is not None and decided_at is not None and (c.last_review is None or decided_at > c.last_review.decided_at):
            c.last_review = ReviewFact(campaign, decision, decided_at)
    overdue = (
        Remediation.objects.filter(state__in=[Remediation.State.OPEN, Remediation.State.REOPENED], due_date__lt=now.date(), **whose)
        .order_by("due_date", "pk")
        .values_list("credential_id", "item__campaign__name", "action", "decided_at", "due_date")
    )
    for credential_id, campaign, action, decided_at, due_date in overdue:
        c = by_id.get(credential_id)
        if c is not None:
            c.overdue_remediation += (ReviewFact(campaign, action, decided_at, due_date),)


def clocked_credentials_sql() -> str:
    """SQL selecting the ids of credentials whose facts above can change with time alone: those
    with an open or reopened remediation (it becomes overdue when its due date passes). An
    incremental evaluation reads these every time instead of carrying them unread
    (docs/adr/0018-fact-revisions.md)."""
    states = ", ".join(f"'{s}'" for s in (Remediation.State.OPEN, Remediation.State.REOPENED))
    return f'SELECT credential_id FROM "{Remediation._meta.db_table}" WHERE state IN ({states})'  # noqa: S608 - constants
