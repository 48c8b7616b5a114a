"""What each person's home page shows: their own work, read from every register.

The home page lives on the floor that may read every register (beside the API, under devtools;
docs/adr/0004-layers.md): the reviewer's open items, the approver's queue, the GRC lead's
posture and what is late or failing, the auditor's engagements and packs. Each function returns
plain rows in a fixed number of queries, whatever the size of the registers, narrowed to what
``user`` may see.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, Prefetch, Q
from django.utils import timezone

from apps.core.permissions import has_perm
from apps.evaluation.models import Evaluation
from apps.evaluation.selectors import posture_dashboard
from apps.evidence.models import Pack
from apps.evidence.selectors import engagement_list
from apps.exceptions_register.models import ExceptionRequest
from apps.exceptions_register.selectors import approval_queue, visible_exceptions
from apps.inventory.models import CollectionRun, CollectionUnit
from apps.inventory.selectors import visible_sources
from apps.reviews.models import Campaign, Remediation, ReviewItem
from apps.reviews.selectors import campaigns_visible

EXPIRY_HORIZON_DAYS = 30
RISK_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}
# A requirement's statuses as shown, in order, with their words.
STATUS_LABELS = [
    ("pass", "Pass"),
    ("fail", "Fail"),
    ("excepted", "Excepted"),
    ("not_assessed", "Not assessed"),
    ("evidenced", "Evidenced"),
    ("evidence_stale", "Evidence stale"),
    ("evidence_missing", "Evidence missing"),
]
SHOWN = tuple(key for key, _ in STATUS_LABELS)
STALE_FACTOR = 2  # a source is stale when its last successful collection is older than twice its schedule


# --- reviewer --------------------------------------------------------------------------------


@dataclass
class CampaignWork:
    campaign_id: int
    name: str
    due_date: dt.date
    open_items: int
    failing: int  # of the open items, how many fail at least one rule (as frozen at the start)
    overdue: bool


def reviewer_work(*, user, today: dt.date | None = None) -> list[CampaignWork]:
    """``user``'s undecided items in active campaigns, per campaign, soonest due first. One query."""
    today = today or timezone.now().date()
    rows: dict[int, CampaignWork] = {}
    items = ReviewItem.objects.filter(reviewer=user, decision="", campaign__state=Campaign.State.ACTIVE).values_list(
        "campaign_id", "campaign__name", "campaign__due_date", "facts__verdicts"
    )
    for campaign_id, name, due, verdicts in items.iterator(chunk_size=2000):
        work = rows.get(campaign_id)
        if work is None:
            work = rows[campaign_id] = CampaignWork(campaign_id, name, due, 0, 0, due < today)
        work.open_items += 1
        work.failing += bool(verdicts)
    return sorted(rows.values(), key=lambda w: (w.due_date, w.campaign_id))


# --- approver --------------------------------------------------------------------------------


def approver_queue(*, user, limit: int = 25) -> tuple[list[ExceptionRequest], int]:
    """The exception requests waiting for ``user``'s decision, riskiest first and, within a risk,
    oldest first; and how many there are in all."""
    queue = list(approval_queue(user=user).select_related("requester", "owner"))
    queue.sort(key=lambda e: (RISK_ORDER.get(e.risk, 9), e.submitted_at or e.created_at, e.pk))
    return queue[:limit], len(queue)


# --- GRC lead --------------------------------------------------------------------------------


@dataclass
class ClausePosture:
    ref: str
    title: str
    counts: dict[str, int]  # requirements per shown status
    trend: list[tuple[str, int, int]] = field(default_factory=list)  # (evaluation label, failing, passing), oldest first


@dataclass
class Posture:
    evaluation: Evaluation | None
    clauses: list[ClausePosture]
    totals: dict[str, int]


def posture_at_a_glance() -> Posture:
    """Per clause: how many requirements pass, fail, are excepted, not assessed or manual in the
    latest evaluation, and the failing/passing counts over the recent evaluations."""
    dashboard = posture_dashboard()
    clauses = []
    for group in dashboard.clauses:
        counts = Counter(row.shown_status for row in group.rows)
        per_eval: dict[str, Counter] = defaultdict(Counter)
        labels: list[str] = []
        for row in group.rows:
            for point in row.trend:
                if point.label not in per_eval:
                    labels.append(point.label)
                per_eval[point.label][point.status or "absent"] += 1
        trend = [(label, per_eval[label]["fail"], per_eval[label]["pass"]) for label in labels]
        clauses.append(ClausePosture(group.clause.ref, group.clause.title, {s: counts.get(s, 0) for s in SHOWN}, trend))
    totals = {s: dashboard.totals.get(s, 0) for s in SHOWN}
    return Posture(dashboard.evaluation, clauses, totals)


@dataclass
class SourceProblem:
    source_id: int
    name: str
    problem: str  # "failing" | "stale" | "never collected"
    detail: str
    last_success: dt.datetime | None


def source_problems(*, user, now: dt.datetime | None = None) -> list[SourceProblem]:
    """Enabled sources ``user`` may view whose latest attempt failed (any of its scopes), that
    were never collected, or whose last success is older than twice their schedule. Two queries."""
    now = now or timezone.now()
    sources = list(visible_sources(user=user).filter(enabled=True).order_by("name"))
    latest: dict[int, dict] = {}
    units = (
        CollectionUnit.objects.filter(source_id__in=[s.pk for s in sources])
        .exclude(status__in=[CollectionUnit.Status.PENDING, CollectionUnit.Status.RUNNING])
        .values("source_id", "scope", "status", "finished_at", "errors")
        .order_by("source_id", "scope", "-finished_at", "-pk")
    )
    last_success: dict[int, dt.datetime] = {}
    failing: dict[int, list[str]] = defaultdict(list)
    for u in units:
        key = (u["source_id"], u["scope"])
        if u["status"] == CollectionUnit.Status.SUCCEEDED and u["finished_at"]:
            seen = last_success.get(u["source_id"])
            last_success[u["source_id"]] = max(seen, u["finished_at"]) if seen else u["finished_at"]
        if key in latest:
            continue
        latest[key] = u
        if u["status"] == CollectionUnit.Status.FAILED:
            error = (u["errors"] or [{}])[-1]  # the last attempt's error
            failing[u["source_id"]].append(f"{u['scope']}: {error.get('code') or 'failed'}")
    problems = []
    for s in sources:
        success = last_success.get(s.pk)
        if failing.get(s.pk):
            problems.append(SourceProblem(s.pk, s.name, "failing", "; ".join(failing[s.pk])[:300], success))
        elif success is None:
            problems.append(SourceProblem(s.pk, s.name, "never collected", "no successful collection yet", None))
        elif now - success > dt.timedelta(minutes=s.schedule_minutes * STALE_FACTOR):
            hours = int((now - success).total_seconds() // 3600)
            problems.append(
                SourceProblem(s.pk, s.name, "stale", f"last collected {hours} h ago; due every {s.schedule_minutes} min", success)
            )
    return problems


def exceptions_expiring(*, user, today: dt.date | None = None, limit: int = 25) -> list[ExceptionRequest]:
    """Approved exceptions ``user`` may view whose last day is within the next 30 days, soonest first."""
    today = today or timezone.now().date()
    qs = visible_exceptions(user=user).filter(
        state=ExceptionRequest.State.APPROVED, expires_on__gte=today, expires_on__lte=today + dt.timedelta(days=EXPIRY_HORIZON_DAYS)
    )
    rows = list(qs.select_related("owner").order_by("expires_on", "pk")[:limit])
    for e in rows:
        e.days_left = (e.expires_on - today).days
    return rows


def overdue_campaigns(*, user, today: dt.date | None = None) -> list[Campaign]:
    """Active campaigns ``user`` may view that are past their due date, with their undecided items."""
    today = today or timezone.now().date()
    return list(
        campaigns_visible(user=user)
        .filter(state=Campaign.State.ACTIVE, due_date__lt=today)
        .annotate(undecided=Count("items", filter=Q(items__decision="")))
        .order_by("due_date", "pk")
    )


def overdue_remediation(*, user, today: dt.date | None = None, limit: int = 25) -> tuple[list[Remediation], int]:
    """Revoke/rotate remediation still open (or reopened) past its due date, in campaigns ``user``
    may view, oldest due first; and how many there are in all."""
    today = today or timezone.now().date()
    qs = (
        Remediation.objects.filter(
            item__campaign__in=campaigns_visible(user=user),
            state__in=[Remediation.State.OPEN, Remediation.State.REOPENED],
            due_date__lt=today,
        )
        .select_related("item__campaign", "owner")
        .order_by("due_date", "pk")
    )
    return list(qs[:limit]), qs.count()


@dataclass
class RunningWork:
    runs: list[CollectionRun]
    evaluations: list[Evaluation]
    packs: list[Pack]

    def __bool__(self) -> bool:
        return bool(self.runs or self.evaluations or self.packs)


def running_work(*, user) -> RunningWork:
    """Collections, evaluations and pack builds queued or running now that ``user`` may see."""
    runs = list(
        CollectionRun.objects.filter(finished_at__isnull=True, units__source__in=visible_sources(user=user)).distinct().order_by("pk")[:10]
    )
    for run in runs:
        counts = Counter(run.units.values_list("status", flat=True))
        total = sum(counts.values())
        done = counts[CollectionUnit.Status.SUCCEEDED] + counts[CollectionUnit.Status.FAILED]
        run.percent = 100 * done // total if total else 0
    evaluations = (
        list(Evaluation.objects.filter(state=Evaluation.State.RUNNING).order_by("pk")[:5])
        if has_perm(user, "evaluation.view_evaluation")
        else []
    )
    packs = list(
        Pack.objects.filter(
            engagement__in=engagement_list(user=user).values("pk"),
            state__in=[Pack.State.QUEUED, Pack.State.BUILDING],
        ).select_related("engagement")[:10]
    )
    return RunningWork(runs, evaluations, packs)


# --- auditor ---------------------------------------------------------------------------------


def auditor_engagements(*, user, packs_each: int = 3) -> list:
    """The engagements ``user`` may view, newest first, each with its latest packs (``recent_packs``)."""
    engagements = list(
        engagement_list(user=user).prefetch_related(
            Prefetch("packs", queryset=Pack.objects.order_by("-created_at", "-pk"), to_attr="all_packs")
        )
    )
    for e in engagements:
        e.recent_packs = e.all_packs[:packs_each]
    return engagements
