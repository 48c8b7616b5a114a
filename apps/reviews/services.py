"""The access-review workflow. Every state change goes through a function here, checks who
may do it, refuses with a clear message and changes nothing when refused, and writes its
audit event in the same transaction.

    draft ─start (freeze population)─► active ─sign off─► signed_off   (decisions locked)
      └──────────────cancel──────────────┴─► cancelled
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter, defaultdict

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone
from guardian.shortcuts import assign_perm

from apps.audit import events
from apps.core import pipeline
from apps.core.bulk import bulk_insert
from apps.core.errors import IllegalTransition, PermissionRefused, ValidationFailed
from apps.core.permissions import has_perm
from apps.reviews.models import (
    Campaign,
    CampaignTemplate,
    JustificationRule,
    Remediation,
    RemediationEvent,
    ReviewAssignment,
    ReviewItem,
    ReviewReminder,
    UndecidedRule,
)
from apps.reviews.population import (
    UserIndex,
    choose_reviewer,
    is_own_identity,
    item_facts,
    normalise_scope,
    population_hash,
    population_queryset,
    subject_of,
)

logger = logging.getLogger(__name__)
MANAGE = "reviews.manage_campaign"
State = Campaign.State
Decision = ReviewItem.Decision


def _require(actor, perm: str, obj=None) -> None:
    if not has_perm(actor, perm, obj):
        raise PermissionRefused(f"{actor} may not {perm.split('.', 1)[1].replace('_', ' ')}")


def _today() -> dt.date:
    return timezone.now().date()


def _locked(campaign: Campaign) -> Campaign:
    return Campaign.objects.select_for_update().get(pk=campaign.pk)


def _clean_settings(*, name: str, scope: dict, fallback_reviewer, justification_rule: str, undecided_rule: str) -> dict:
    if not (name or "").strip():
        raise ValidationFailed("Name: give the campaign a name.")
    if fallback_reviewer is None or not fallback_reviewer.is_active:
        raise ValidationFailed("Fallback reviewer: choose an active user.")
    if justification_rule not in JustificationRule.values:
        raise ValidationFailed(f"Justification: choose one of {', '.join(JustificationRule.values)}.")
    if undecided_rule not in UndecidedRule.values:
        raise ValidationFailed(f"Undecided items: choose one of {', '.join(UndecidedRule.values)}.")
    return dict(name=name.strip()[:200], scope=normalise_scope(scope), fallback_reviewer=fallback_reviewer,
                justification_rule=justification_rule, undecided_rule=undecided_rule)


@transaction.atomic
def campaign_create(*, actor, name: str, scope: dict, due_date: dt.date, fallback_reviewer,
                    justification_rule: str = JustificationRule.ALL, undecided_rule: str = UndecidedRule.KEEP_FLAG,
                    template: CampaignTemplate | None = None) -> Campaign:
    """A draft campaign. Refuses a past due date and a scope that selects nothing present."""
    if actor is not None:
        _require(actor, MANAGE)
    values = _clean_settings(name=name, scope=scope, fallback_reviewer=fallback_reviewer,
                             justification_rule=justification_rule, undecided_rule=undecided_rule)
    if due_date is None or due_date <= _today():
        raise ValidationFailed("Due date: a campaign must end on a future date.")
    if not population_queryset(values["scope"]).exists():
        raise ValidationFailed("Scope: no present credential matches it; widen the scope (nothing was created).")
    campaign = Campaign.objects.create(**values, due_date=due_date, created_by=actor or template.created_by, template=template)
    events.campaign_created(actor=actor, campaign=campaign)
    return campaign


def _latest_verdicts(credential_ids: list[int]) -> dict[int, list[str]]:
    from apps.evaluation.models import Evaluation, Finding

    latest = Evaluation.objects.filter(state=Evaluation.State.SUCCEEDED).order_by("-finished_at", "-pk").values_list("pk", flat=True).first()
    verdicts: dict[int, list[str]] = defaultdict(list)
    if latest is None:
        return verdicts
    rows = Finding.objects.filter(evaluation_id=latest, status="fail", credential_id__isnull=False).values_list("credential_id", "rule_id")
    wanted = set(credential_ids)
    for cid, rule in rows.iterator(chunk_size=5000):
        if cid in wanted:
            verdicts[cid].append(rule)
    return verdicts


@transaction.atomic
def campaign_start(*, actor, campaign: Campaign) -> Campaign:
    """Freeze the population: one item per present credential in scope, with its facts, its
    reviewer by rule and the population hash. Self-reviews go to the fallback reviewer."""
    campaign = _locked(campaign)
    if actor is not None:
        _require(actor, MANAGE)
    if campaign.state != State.DRAFT:
        raise IllegalTransition(f"{campaign} is {campaign.get_state_display().lower()}; only a draft starts.")
    if campaign.due_date <= _today():
        raise ValidationFailed("Due date: it has passed; change it before starting.")
    fallback = campaign.fallback_reviewer
    if not fallback.is_active:
        raise ValidationFailed(f"Fallback reviewer: {fallback} is deactivated; choose another.")
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
        rows.append({"credential_id": c.pk, "identity_id": c.identity_id, "source_id": c.source_id, "subject": subject_of(c),
                     "facts": facts, "reviewer": reviewer, "rule": rule})
    bulk_insert(ReviewItem, ["campaign_id", "source_id", "credential_id", "identity_id", "subject", "facts", "reviewer_id",
                             "assigned_by_rule", "decision", "justification", "flagged"],
                ((campaign.pk, r["source_id"], r["credential_id"], r["identity_id"], r["subject"], r["facts"], r["reviewer"].pk,
                  r["rule"], "", "", False) for r in rows))
    if self_reviews:
        owners = {r["credential_id"]: r for r in rows}
        ReviewAssignment.objects.bulk_create([
            ReviewAssignment(item_id=item_id, from_reviewer=None, to_reviewer=fallback, reason=ReviewAssignment.Reason.SELF_REVIEW,
                             note=f"the owner would review their own identity ({owners[cid]['subject'][:200]})", by=None, at=now)
            for item_id, cid in campaign.items.filter(credential_id__in=self_reviews).values_list("pk", "credential_id")
        ])
    reviewers = {r["reviewer"].pk: r["reviewer"] for r in rows}
    for reviewer in reviewers.values():
        assign_perm("review_campaign", reviewer, campaign)
    campaign.state, campaign.started_at, campaign.started_by = State.ACTIVE, now, actor
    campaign.population_count, campaign.population_hash = len(rows), population_hash(rows)
    campaign.save(update_fields=["state", "started_at", "started_by", "population_count", "population_hash"])
    events.campaign_started(actor=actor, campaign=campaign, reviewers=sorted(u.get_username() for u in reviewers.values()),
                            self_reviews=len(self_reviews))
    return campaign


@transaction.atomic
def campaign_cancel(*, actor, campaign: Campaign, comment: str) -> Campaign:
    campaign = _locked(campaign)
    _require(actor, MANAGE)
    if campaign.state not in (State.DRAFT, State.ACTIVE):
        raise IllegalTransition(f"{campaign} is {campaign.get_state_display().lower()}; it cannot be cancelled.")
    if not (comment or "").strip():
        raise ValidationFailed("Comment: say why the campaign is cancelled.")
    before = campaign.state
    campaign.state, campaign.cancelled_at = State.CANCELLED, timezone.now()
    campaign.save(update_fields=["state", "cancelled_at"])
    events.campaign_transition(actor=actor, campaign=campaign, from_state=before, comment=comment)
    return campaign


# --- decisions ------------------------------------------------------------------------------

def _check_open(campaign: Campaign) -> None:
    if campaign.state == State.SIGNED_OFF:
        raise IllegalTransition(f"{campaign} was signed off on {campaign.signed_off_at:%Y-%m-%d}; its decisions are locked.")
    if campaign.state != State.ACTIVE:
        raise IllegalTransition(f"{campaign} is {campaign.get_state_display().lower()}; nothing can be decided.")


def _remediation_rows(items, *, decision: str, owner_id: int, now) -> None:
    due = (now + dt.timedelta(days=settings.KEYTRAIL_REVIEW_REMEDIATION_DAYS)).date()
    made = Remediation.objects.bulk_create([
        Remediation(item_id=i.pk, credential_id=i.credential_id, action=decision, owner_id=owner_id, due_date=due, decided_at=now)
        for i in items if i.credential_id
    ])
    RemediationEvent.objects.bulk_create([RemediationEvent(remediation=r, at=now, state=Remediation.State.OPEN, note=f"{decision} decided")
                                          for r in made])


@transaction.atomic
def items_decide(*, actor, campaign: Campaign, item_ids: list[int], decision: str, justification: str) -> int:
    """Decide ``item_ids`` (one or many) with one justification. The whole batch is refused,
    and nothing changes, if any item is not in this campaign, not the actor's, already
    decided or about the actor's own identity, or if the campaign is not in review.
    One query fetches, one UPDATE decides, one INSERT audits. Returns how many were decided."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    _check_open(campaign)
    if decision not in Decision.values:
        raise ValidationFailed(f"Decision: choose one of {', '.join(Decision.values)}.")
    justification = (justification or "").strip()
    if not justification and (campaign.justification_rule == JustificationRule.ALL or decision != Decision.KEEP):
        raise ValidationFailed("Justification: say why" + (" (required for every decision)." if campaign.justification_rule == JustificationRule.ALL
                                                           else f" (required to {decision})."))
    wanted = sorted({int(i) for i in item_ids})
    if not wanted:
        raise ValidationFailed("Select at least one item.")
    items = list(ReviewItem.objects.filter(campaign=campaign, pk__in=wanted)
                 .only("pk", "campaign_id", "credential_id", "reviewer_id", "decision", "subject", "facts"))
    if len(items) != len(wanted):
        raise ValidationFailed(f"{len(wanted) - len(items)} of the selected items are not in this campaign; nothing was decided.")
    others = Counter(i.reviewer_id for i in items if i.reviewer_id != actor.pk)
    if others:
        raise PermissionRefused(f"{sum(others.values())} of the {len(items)} selected items are assigned to "
                                f"{'another reviewer' if len(others) == 1 else f'{len(others)} other reviewers'}; nothing was decided.")
    done = [i for i in items if i.decision]
    if done:
        raise IllegalTransition(f"{len(done)} of the selected items are already decided (a decision is final); nothing was decided.")
    own = [i for i in items if is_own_identity(actor, i.facts)]
    if own:
        raise PermissionRefused(f"{len(own)} of the selected items are about your own identity; nobody reviews their own access (the GRC lead reassigns them). Nothing was decided.")
    now = timezone.now()
    ReviewItem.objects.filter(pk__in=wanted).update(decision=decision, justification=justification, decided_at=now, decided_by=actor)
    if decision != Decision.KEEP:
        _remediation_rows(items, decision=decision, owner_id=actor.pk, now=now)
    events.review_items_decided(actor=actor, items=items, decision=decision, justification=justification)
    return len(items)


def _reassign(*, actor, campaign: Campaign, items: list[ReviewItem], to_reviewer, reason: str, note: str) -> int:
    if not to_reviewer.is_active:
        raise ValidationFailed(f"{to_reviewer} is deactivated; choose someone else.")
    own = [i for i in items if is_own_identity(to_reviewer, i.facts)]
    if own:
        raise ValidationFailed(f"{to_reviewer} would review their own identity ({own[0].subject[:120]}); nothing was reassigned.")
    items = [i for i in items if i.reviewer_id != to_reviewer.pk]
    if not items:
        return 0
    now = timezone.now()
    names = dict(type(to_reviewer).objects.filter(pk__in={i.reviewer_id for i in items}).values_list("pk", "username"))
    for i in items:
        i.previous_reviewer = names.get(i.reviewer_id)
    ReviewItem.objects.filter(pk__in=[i.pk for i in items]).update(reviewer=to_reviewer)
    ReviewAssignment.objects.bulk_create([ReviewAssignment(item_id=i.pk, from_reviewer_id=i.reviewer_id, to_reviewer=to_reviewer, reason=reason,
                                                           note=note, by=actor, at=now) for i in items])
    assign_perm("review_campaign", to_reviewer, campaign)
    events.review_items_reassigned(actor=actor, items=items, to_reviewer=to_reviewer, reason=reason, note=note)
    return len(items)


@transaction.atomic
def items_reassign(*, actor, campaign: Campaign, to_reviewer, note: str, item_ids: list[int] | None = None, from_reviewer=None) -> int:
    """The GRC lead moves undecided items (the given ones, or all of ``from_reviewer``'s) to another reviewer."""
    campaign = _locked(campaign)
    _require(actor, MANAGE)
    _check_open(campaign)
    if not (note or "").strip():
        raise ValidationFailed("Note: say why the items are reassigned.")
    qs = campaign.items.filter(decision="")
    if item_ids is not None:
        qs = qs.filter(pk__in=item_ids)
    if from_reviewer is not None:
        qs = qs.filter(reviewer=from_reviewer)
    return _reassign(actor=actor, campaign=campaign, items=list(qs.only("pk", "campaign_id", "reviewer_id", "subject", "facts", "credential_id")),
                     to_reviewer=to_reviewer, reason=ReviewAssignment.Reason.REASSIGNED, note=note.strip())


@transaction.atomic
def items_delegate(*, actor, campaign: Campaign, item_ids: list[int], to_reviewer, note: str) -> int:
    """A reviewer hands some of their undecided items to someone else, with a note."""
    campaign = _locked(campaign)
    _check_open(campaign)
    if not (note or "").strip():
        raise ValidationFailed("Note: say why you delegate these items.")
    if to_reviewer.pk == actor.pk:
        raise ValidationFailed("Delegate to someone else.")
    items = list(campaign.items.filter(pk__in=item_ids).only("pk", "campaign_id", "reviewer_id", "decision", "subject", "facts", "credential_id"))
    if not items or len(items) != len(set(item_ids)):
        raise ValidationFailed("Select items of this campaign.")
    if any(i.reviewer_id != actor.pk for i in items):
        raise PermissionRefused("Some of the selected items are not assigned to you; nothing was delegated.")
    if any(i.decision for i in items):
        raise IllegalTransition("Decided items cannot be delegated.")
    return _reassign(actor=actor, campaign=campaign, items=items, to_reviewer=to_reviewer, reason=ReviewAssignment.Reason.DELEGATED,
                     note=note.strip())


def reviewer_deactivated(*, user) -> int:
    """Move ``user``'s undecided items in campaigns in review to each campaign's fallback
    (or, when the user is the fallback, leave them for the GRC lead, who sees them flagged)."""
    moved = 0
    for campaign in Campaign.objects.filter(state=State.ACTIVE, items__reviewer=user, items__decision="").distinct():
        with transaction.atomic():
            campaign = _locked(campaign)
            if campaign.fallback_reviewer_id == user.pk or not campaign.fallback_reviewer.is_active:
                continue
            items = list(campaign.items.filter(reviewer=user, decision="").only("pk", "campaign_id", "reviewer_id", "subject", "facts", "credential_id"))
            try:
                moved += _reassign(actor=None, campaign=campaign, items=items, to_reviewer=campaign.fallback_reviewer,
                                   reason=ReviewAssignment.Reason.DEACTIVATED, note=f"{user.get_username()} was deactivated")
            except ValidationFailed:
                continue  # the fallback is the identity under review: left for the GRC lead to reassign
    return moved


# --- sign-off ------------------------------------------------------------------------------

def _apply_undecided_rule(campaign: Campaign, now) -> int:
    undecided = list(campaign.items.filter(decision="").only("pk", "campaign_id", "credential_id", "subject"))
    if not undecided:
        return 0
    decision = Decision.REVOKE if campaign.undecided_rule == UndecidedRule.REVOKE else Decision.KEEP
    note = f"undecided at the deadline ({campaign.due_date:%Y-%m-%d}): {campaign.get_undecided_rule_display().lower()}"
    ReviewItem.objects.filter(pk__in=[i.pk for i in undecided]).update(decision=decision, justification=note, decided_at=now, flagged=True)
    if decision == Decision.REVOKE:
        _remediation_rows(undecided, decision=decision, owner_id=campaign.fallback_reviewer_id, now=now)
    events.review_items_decided_by_rule(items=undecided, decision=decision, note=note)
    campaign.deadline_applied_at = now
    campaign.save(update_fields=["deadline_applied_at"])
    return len(undecided)


@transaction.atomic
def campaign_sign_off(*, actor, campaign: Campaign, comment: str = "") -> Campaign:
    """Lock the decisions. Before the due date every item must be decided; after it, the
    undecided ones follow the campaign's rule (kept and flagged, or marked for revocation)."""
    campaign = _locked(campaign)
    _require(actor, MANAGE)
    _check_open(campaign)
    now = timezone.now()
    undecided = campaign.items.filter(decision="").count()
    by_rule = 0
    if undecided:
        if _today() <= campaign.due_date:
            raise IllegalTransition(f"{undecided} items are still undecided and the due date ({campaign.due_date:%Y-%m-%d}) has not passed; "
                                    "remind or reassign their reviewers.")
        by_rule = _apply_undecided_rule(campaign, now)
    campaign.state, campaign.signed_off_at, campaign.signed_off_by, campaign.sign_off_note = State.SIGNED_OFF, now, actor, (comment or "").strip()
    campaign.save(update_fields=["state", "signed_off_at", "signed_off_by", "sign_off_note"])
    events.campaign_transition(actor=actor, campaign=campaign, from_state=State.ACTIVE, comment=comment,
                               extra={"decided_by_rule": by_rule, "population_hash": campaign.population_hash})
    # The decisions now count for credential-not-reviewed (9.2.4.19): evaluate again.
    pipeline.publish("review.signed_off", campaign_id=campaign.pk)  # config/pipeline.py
    return campaign


# --- reminders ------------------------------------------------------------------------------

def _remind(campaign: Campaign, reviewer, mark: str, undecided: int, *, actor=None, escalate_to=()) -> bool:
    days_left = (campaign.due_date - _today()).days
    when = (f"is due in {days_left} day{'s' if days_left != 1 else ''}" if days_left >= 0
            else f"was due {-days_left} day{'s' if days_left != -1 else ''} ago")
    message = f"{undecided} item{'s' if undecided != 1 else ''} in '{campaign.name}' await your decision; the campaign {when} ({campaign.due_date:%Y-%m-%d})."
    recipients = sorted({u.email for u in (reviewer, *escalate_to) if u.email})
    try:
        # Recorded and sent in one transaction: a mail server that fails rolls the record
        # back, so the reminder is tried again on the next run.
        with transaction.atomic():
            ReviewReminder.objects.create(campaign=campaign, reviewer=reviewer, mark=mark, message=message, sent_at=timezone.now())
            events.review_reminded(campaign=campaign, reviewer=reviewer, mark=mark, undecided=undecided, actor=actor)
            if recipients:
                send_mail(subject=f"[keytrail] access review: {campaign.name}", message=message + "\nDecide keep, revoke or rotate in keytrail.",
                          from_email=None, recipient_list=recipients)
    except IntegrityError:
        return False  # this mark was already sent
    return True


def _pending_by_reviewer(campaign: Campaign) -> dict[int, int]:
    return dict(Counter(campaign.items.filter(decision="").values_list("reviewer_id", flat=True)))


def reviews_send_reminders(*, today: dt.date | None = None) -> int:
    """For each campaign in review: first move items of deactivated reviewers to the fallback,
    then remind each reviewer with undecided items at the reminder marks before the due date
    (each mark once) and every day once overdue. Returns how many reminders were sent."""
    from apps.accounts.models import User

    today = today or _today()
    for user in User.objects.filter(is_active=False, review_items__decision="", review_items__campaign__state=State.ACTIVE).distinct():
        reviewer_deactivated(user=user)
    marks = sorted(set(settings.KEYTRAIL_REVIEW_REMINDER_DAYS))
    sent = 0
    for campaign in Campaign.objects.filter(state=State.ACTIVE):
        days_left = (campaign.due_date - today).days
        if days_left < 0:
            mark = f"overdue:{today:%Y-%m-%d}"
        else:
            reached = [m for m in marks if days_left <= m]
            if not reached:
                continue
            mark = f"before:{min(reached)}"
        pending = _pending_by_reviewer(campaign)
        for reviewer in User.objects.filter(pk__in=pending, is_active=True):
            sent += _remind(campaign, reviewer, mark, pending[reviewer.pk])
    return sent


def campaign_remind(*, actor, campaign: Campaign, reviewer, escalate: bool = False) -> bool:
    """The GRC lead reminds one reviewer now (escalating copies the fallback reviewer and the GRC lead)."""
    _require(actor, MANAGE)
    if campaign.state != State.ACTIVE:
        raise IllegalTransition(f"{campaign} is {campaign.get_state_display().lower()}; nobody needs reminding.")
    undecided = campaign.items.filter(reviewer=reviewer, decision="").count()
    if not undecided:
        raise ValidationFailed(f"{reviewer} has no undecided item in this campaign.")
    kind = "escalated" if escalate else "manual"
    return _remind(campaign, reviewer, f"{kind}:{timezone.now():%Y%m%d%H%M%S%f}", undecided, actor=actor,
                   escalate_to=(campaign.fallback_reviewer, actor) if escalate else ())


# --- recurring campaigns ---------------------------------------------------------------------

_CRONTABS = {  # minute hour day_of_month month_of_year
    CampaignTemplate.Recurrence.MONTHLY: ("0", "6", "1", "*"),
    CampaignTemplate.Recurrence.QUARTERLY: ("0", "6", "1", "1,4,7,10"),
    CampaignTemplate.Recurrence.YEARLY: ("0", "6", "1", "1"),
}


@transaction.atomic
def template_save(*, actor, name: str, scope: dict, fallback_reviewer, recurrence: str, duration_days: int = 21,
                  justification_rule: str = JustificationRule.ALL, undecided_rule: str = UndecidedRule.KEEP_FLAG,
                  enabled: bool = True, template: CampaignTemplate | None = None) -> CampaignTemplate:
    """Create or update a recurring campaign and its django-celery-beat schedule."""
    import json

    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    _require(actor, MANAGE)
    values = _clean_settings(name=name, scope=scope, fallback_reviewer=fallback_reviewer,
                             justification_rule=justification_rule, undecided_rule=undecided_rule)
    if recurrence not in CampaignTemplate.Recurrence.values:
        raise ValidationFailed(f"Recurrence: choose one of {', '.join(CampaignTemplate.Recurrence.values)}.")
    if not 1 <= int(duration_days) <= 365:
        raise ValidationFailed("Duration: between 1 and 365 days.")
    created = template is None
    template = template or CampaignTemplate(created_by=actor)
    for key, value in {**values, "recurrence": recurrence, "duration_days": int(duration_days), "enabled": enabled}.items():
        setattr(template, key, value)
    template.save()
    minute, hour, day, month = _CRONTABS[recurrence]
    crontab, _ = CrontabSchedule.objects.get_or_create(minute=minute, hour=hour, day_of_month=day, month_of_year=month,
                                                       day_of_week="*", timezone="UTC")
    task, _ = PeriodicTask.objects.update_or_create(
        name=f"keytrail: access review template {template.pk}",
        defaults={"task": "reviews.launch_template", "crontab": crontab, "interval": None, "args": json.dumps([template.pk]),
                  "enabled": enabled},
    )
    if template.periodic_task_id != task.pk:
        template.periodic_task = task
        template.save(update_fields=["periodic_task"])
    events.campaign_template_saved(actor=actor, template=template, created=created)
    return template


def template_launch(*, template: CampaignTemplate, today: dt.date | None = None) -> Campaign | None:
    """Start this period's campaign from the template (the scheduler calls this). None when the
    template is disabled or its scope selects nothing (logged; the next period tries again)."""
    if not template.enabled:
        return None
    today = today or _today()
    with transaction.atomic():
        try:
            campaign = campaign_create(actor=None, name=f"{template.name} {today:%Y-%m-%d}", scope=template.scope,
                                       due_date=today + dt.timedelta(days=template.duration_days), fallback_reviewer=template.fallback_reviewer,
                                       justification_rule=template.justification_rule, undecided_rule=template.undecided_rule, template=template)
            return campaign_start(actor=None, campaign=campaign)
        except ValidationFailed as exc:
            logger.warning("recurring campaign %s not started: %s", template.pk, exc)
            return None
