"""A campaign's life: create a draft, start it (freeze its population), sign it off (lock the
decisions, applying the undecided rule after the due date) or cancel it.

    draft ─start (freeze population)─► active ─sign off─► signed_off   (decisions locked)
      └──────────────cancel──────────────┴─► cancelled
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db import transaction
from django.utils import timezone
from guardian.shortcuts import assign_perm

from apps.audit import events
from apps.core import pipeline
from apps.core.bulk import bulk_insert
from apps.core.errors import IllegalTransition, ValidationFailed
from apps.reviews.models import Campaign, CampaignTemplate, JustificationRule, ReviewAssignment, ReviewItem, UndecidedRule
from apps.reviews.population import (
    UserIndex,
    choose_reviewer,
    is_own_identity,
    item_facts,
    population_hash,
    population_queryset,
    subject_of,
)
from apps.reviews.services._common import (
    MANAGE,
    Decision,
    State,
    check_open,
    clean_settings,
    current_date,
    locked,
    remediation_rows,
    require_perm,
)


@transaction.atomic
def campaign_create(
    *,
    actor,
    name: str,
    scope: dict,
    due_date: dt.date,
    fallback_reviewer,
    justification_rule: str = JustificationRule.ALL,
    undecided_rule: str = UndecidedRule.KEEP_FLAG,
    template: CampaignTemplate | None = None,
) -> Campaign:
    """A draft campaign. Refuses a past due date and a scope that selects nothing present."""
    if actor is not None:
        require_perm(actor, MANAGE)
    values = clean_settings(
        name=name, scope=scope, fallback_reviewer=fallback_reviewer, justification_rule=justification_rule, undecided_rule=undecided_rule
    )
    if due_date is None or due_date <= current_date():
        raise ValidationFailed("Due date: a campaign must end on a future date.")
    if not population_queryset(values["scope"]).exists():
        raise ValidationFailed("Scope: no present credential matches it; widen the scope (nothing was created).")
    campaign = Campaign.objects.create(**values, due_date=due_date, created_by=actor or template.created_by, template=template)
    events.campaign_created(actor=actor, campaign=campaign)
    return campaign


def _latest_verdicts(credential_ids: list[int]) -> dict[int, list[str]]:
    from apps.evaluation.models import Evaluation, Finding

    latest = (
        Evaluation.objects.filter(state=Evaluation.State.SUCCEEDED).order_by("-finished_at", "-pk").values_list("pk", flat=True).first()
    )
    verdicts: dict[int, list[str]] = defaultdict(list)
    if latest is None:
        return verdicts
    rows = Finding.objects.filter(evaluation_id=latest, status="fail", credential_id__isnull=False).values_list("credential_id", "rule_id")
    wanted = set(credential_ids)
    for cid, rule in rows.iterator(chunk_size=5000):
        if cid in wanted:
            verdicts[cid].append(rule)
    return verdicts


def _check_startable(campaign: Campaign, *, states: tuple[str, ...]) -> None:
    if campaign.state not in states:
        raise IllegalTransition(f"{campaign} is {campaign.get_state_display().lower()}; only a draft starts.")
    if campaign.due_date <= current_date():
        raise ValidationFailed("Due date: it has passed; change it before starting.")
    if not campaign.fallback_reviewer.is_active:
        raise ValidationFailed(f"Fallback reviewer: {campaign.fallback_reviewer} is deactivated; choose another.")


@transaction.atomic
def campaign_start_request(*, actor, campaign: Campaign) -> Campaign:
    """Queue the start for a worker and return at once: the campaign is "starting" until the
    worker has frozen its population (``campaign_start``), or back to draft with ``start_error``
    if that refused. Audited (``campaign.start_requested``).

    Raises IllegalTransition or ValidationFailed, changing nothing, for what can be told now."""
    campaign = locked(campaign)
    require_perm(actor, MANAGE)
    _check_startable(campaign, states=(State.DRAFT,))
    if not population_queryset(campaign.scope).exists():
        raise ValidationFailed("Scope: no present credential matches it any more; nothing was started.")
    campaign.state, campaign.start_error = State.STARTING, ""
    campaign.save(update_fields=["state", "start_error"])
    events.campaign_start_requested(actor=actor, campaign=campaign)
    transaction.on_commit(lambda: _enqueue_start(campaign.pk, actor.pk))
    return campaign


def _enqueue_start(campaign_pk: int, actor_pk: int) -> None:
    from apps.reviews.tasks import start_campaign

    try:
        start_campaign.delay(campaign_pk, actor_pk)
    except Exception as exc:  # noqa: BLE001 - never leave it "starting": say why it did not start
        campaign_start_fail(campaign_pk=campaign_pk, error=f"could not be queued for a worker: {type(exc).__name__}: {exc}")


@transaction.atomic
def campaign_start_fail(*, campaign_pk: int, error: str) -> None:
    """A start the worker could not make: back to draft, with why (shown on the campaign). Audited."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign_pk)
    if campaign.state != State.STARTING:
        return
    campaign.state, campaign.start_error = State.DRAFT, error[:2000]
    campaign.save(update_fields=["state", "start_error"])
    events.campaign_start_failed(campaign=campaign, error=campaign.start_error)


@transaction.atomic
def campaign_start(*, actor, campaign: Campaign) -> Campaign:
    """Freeze the population: one item per present credential in scope, with its facts, its
    reviewer by rule and the population hash. Self-reviews go to the fallback reviewer. Runs
    for a draft (the scheduler, the demo) or a campaign queued by ``campaign_start_request``."""
    campaign = locked(campaign)
    if actor is not None:
        require_perm(actor, MANAGE)
    _check_startable(campaign, states=(State.DRAFT, State.STARTING))
    fallback = campaign.fallback_reviewer
    now = timezone.now()
    credentials = list(population_queryset(campaign.scope).select_related("identity", "source").order_by("pk"))
    if not credentials:
        raise ValidationFailed("Scope: no present credential matches it any more; nothing was started.")
    verdicts = _latest_verdicts([c.pk for c in credentials])
    users = UserIndex.load()
    rows, self_reviews = [], []
    for c in credentials:
        facts = item_facts(c, now, sorted(verdicts.get(c.pk, [])))
        reviewer, rule = choose_reviewer(facts, users, fallback)
        if is_own_identity(reviewer, facts):
            raise ValidationFailed(f"Fallback reviewer: {fallback} would review their own identity ({subject_of(c)}); choose another.")
        if rule == "self_review":
            self_reviews.append(c.pk)
        rows.append(
            {
                "credential_id": c.pk,
                "identity_id": c.identity_id,
                "source_id": c.source_id,
                "subject": subject_of(c),
                "facts": facts,
                "reviewer": reviewer,
                "rule": rule,
            }
        )
    bulk_insert(
        ReviewItem,
        [
            "campaign_id",
            "source_id",
            "credential_id",
            "identity_id",
            "subject",
            "facts",
            "reviewer_id",
            "assigned_by_rule",
            "decision",
            "justification",
            "flagged",
        ],
        (
            (
                campaign.pk,
                r["source_id"],
                r["credential_id"],
                r["identity_id"],
                r["subject"],
                r["facts"],
                r["reviewer"].pk,
                r["rule"],
                "",
                "",
                False,
            )
            for r in rows
        ),
    )
    if self_reviews:
        owners = {r["credential_id"]: r for r in rows}
        ReviewAssignment.objects.bulk_create(
            [
                ReviewAssignment(
                    item_id=item_id,
                    from_reviewer=None,
                    to_reviewer=fallback,
                    reason=ReviewAssignment.Reason.SELF_REVIEW,
                    note=f"the owner would review their own identity ({owners[cid]['subject'][:200]})",
                    by=None,
                    at=now,
                )
                for item_id, cid in campaign.items.filter(credential_id__in=self_reviews).values_list("pk", "credential_id")
            ]
        )
    reviewers = {r["reviewer"].pk: r["reviewer"] for r in rows}
    for reviewer in reviewers.values():
        assign_perm("review_campaign", reviewer, campaign)
    campaign.state, campaign.started_at, campaign.started_by = State.ACTIVE, now, actor
    campaign.population_count, campaign.population_hash = len(rows), population_hash(rows)
    campaign.start_error = ""
    campaign.save(update_fields=["state", "started_at", "started_by", "population_count", "population_hash", "start_error"])
    events.campaign_started(
        actor=actor, campaign=campaign, reviewers=sorted(u.get_username() for u in reviewers.values()), self_reviews=len(self_reviews)
    )
    # Each reviewer is told what awaits them (e-mail, webhooks: config/pipeline.py).
    pipeline.publish("review.assigned", campaign_id=campaign.pk, reviewer_ids=sorted(reviewers), tag="start")
    return campaign


@transaction.atomic
def campaign_cancel(*, actor, campaign: Campaign, comment: str) -> Campaign:
    campaign = locked(campaign)
    require_perm(actor, MANAGE)
    if campaign.state not in (State.DRAFT, State.STARTING, State.ACTIVE):
        raise IllegalTransition(f"{campaign} is {campaign.get_state_display().lower()}; it cannot be cancelled.")
    if not (comment or "").strip():
        raise ValidationFailed("Comment: say why the campaign is cancelled.")
    before = campaign.state
    campaign.state, campaign.cancelled_at = State.CANCELLED, timezone.now()
    campaign.save(update_fields=["state", "cancelled_at"])
    events.campaign_transition(actor=actor, campaign=campaign, from_state=before, comment=comment)
    return campaign


# --- sign-off ------------------------------------------------------------------------------


def _apply_undecided_rule(campaign: Campaign, now) -> int:
    undecided = list(campaign.items.filter(decision="").only("pk", "campaign_id", "credential_id", "subject"))
    if not undecided:
        return 0
    decision = Decision.REVOKE if campaign.undecided_rule == UndecidedRule.REVOKE else Decision.KEEP
    note = f"undecided at the deadline ({campaign.due_date:%Y-%m-%d}): {campaign.get_undecided_rule_display().lower()}"
    ReviewItem.objects.filter(pk__in=[i.pk for i in undecided]).update(decision=decision, justification=note, decided_at=now, flagged=True)
    if decision == Decision.REVOKE:
        remediation_rows(undecided, decision=decision, owner_id=campaign.fallback_reviewer_id, now=now)
    events.review_items_decided_by_rule(items=undecided, decision=decision, note=note)
    campaign.deadline_applied_at = now
    campaign.save(update_fields=["deadline_applied_at"])
    return len(undecided)


@transaction.atomic
def campaign_sign_off(*, actor, campaign: Campaign, comment: str = "") -> Campaign:
    """Lock the decisions. Before the due date every item must be decided; after it, the
    undecided ones follow the campaign's rule (kept and flagged, or marked for revocation)."""
    campaign = locked(campaign)
    require_perm(actor, MANAGE)
    check_open(campaign)
    now = timezone.now()
    undecided = campaign.items.filter(decision="").count()
    by_rule = 0
    if undecided:
        if current_date() <= campaign.due_date:
            raise IllegalTransition(
                f"{undecided} items are still undecided and the due date ({campaign.due_date:%Y-%m-%d}) has not passed; "
                "remind or reassign their reviewers."
            )
        by_rule = _apply_undecided_rule(campaign, now)
    campaign.state, campaign.signed_off_at, campaign.signed_off_by, campaign.sign_off_note = (
        State.SIGNED_OFF,
        now,
        actor,
        (comment or "").strip(),
    )
    campaign.save(update_fields=["state", "signed_off_at", "signed_off_by", "sign_off_note"])
    events.campaign_transition(
        actor=actor,
        campaign=campaign,
        from_state=State.ACTIVE,
        comment=comment,
        extra={"decided_by_rule": by_rule, "population_hash": campaign.population_hash},
    )
    # The decisions now count for credential-not-reviewed (9.2.4.19): evaluate again.
    pipeline.publish("review.signed_off", campaign_id=campaign.pk)  # config/pipeline.py
    return campaign
