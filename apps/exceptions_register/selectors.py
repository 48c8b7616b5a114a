"""Reads for the exception register's pages: the register and its filters, the "expiring
soon" box, the approval queue, and one exception with its scope resolved to names, its
decisions, its renewal chain and the findings it excuses.

Everything is narrowed to the exceptions a user may view (``view_exceptionrequest``, by
role or per object). The register and the queue run a fixed number of queries whatever
their length. Names and texts are returned as stored: the templates escape them.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, TypedDict

from django.conf import settings
from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from apps.accounts.models import User
from apps.core.isotime import iso_utc
from apps.core.permissions import has_perm, objects_for
from apps.evaluation.models import Evaluation, Finding
from apps.evaluation.selectors import latest_evaluation, rule_info
from apps.exceptions_register.models import ExceptionDecision, ExceptionRequest
from apps.inventory.models import Credential, Identity, Source
from apps.inventory.selectors import visible_sources

State = ExceptionRequest.State
VIEW = "exceptions_register.view_exceptionrequest"
DECIDE = "exceptions_register.decide_exception"
OPEN_STATES = (State.DRAFT, State.PENDING, State.APPROVED)  # not yet ended: their expiry is still ahead of them
EXPIRY_WINDOWS = (
    ("7", "Expiring within 7 days"),
    ("30", "Expiring within 30 days"),
    ("90", "Expiring within 90 days"),
    ("expired", "Expired"),
)
MINE = (("requested", "Requested by me"), ("owned", "Owned by me"))


def today() -> dt.date:
    return timezone.now().date()


def reminder_window() -> int:
    """The largest reminder mark (days before expiry): the reach of the "Expiring soon" box."""
    return max(settings.KEYTRAIL_EXCEPTION_REMINDER_DAYS, default=30)


def visible_exceptions(*, user) -> QuerySet[ExceptionRequest]:
    return objects_for(user, VIEW, ExceptionRequest.objects.all())


def _with_approvals(qs: QuerySet[ExceptionRequest]) -> QuerySet[ExceptionRequest]:
    # ``approvals`` as an annotation: the model's ``approvals_count`` would query once per row.
    return qs.select_related("owner", "requester").annotate(
        approvals=Count("decisions", filter=Q(decisions__decision=ExceptionDecision.Decision.APPROVE))
    )


def _has_rule(qs: QuerySet[ExceptionRequest], rule: str) -> QuerySet[ExceptionRequest]:
    if connection.features.supports_json_field_contains:
        return qs.filter(rule_ids__contains=[rule])
    # SQLite (the one-machine demo) cannot ask JSON containment; the ids are stored as a JSON
    # list of quoted strings, and a rule id has no quote in it.
    return qs.filter(rule_ids__icontains=f'"{rule}"')


# --- the register ------------------------------------------------------------------------


def exception_list(
    *, user, state: str = "", rule: str = "", owner: str = "", risk: str = "", expiry: str = "", mine: str = "", on: dt.date | None = None
) -> QuerySet[ExceptionRequest]:
    """The exceptions ``user`` may view, filtered, newest first, owner/requester joined in and
    ``approvals`` (approve decisions) counted. Unknown filter values are ignored."""
    on = on or today()
    qs = visible_exceptions(user=user)
    if state in State.values:
        qs = qs.filter(state=state)
    if rule:
        qs = _has_rule(qs, rule)
    if owner:
        qs = qs.filter(owner__username=owner)
    if risk in ExceptionRequest.Risk.values:
        qs = qs.filter(risk=risk)
    if expiry.isdigit() and expiry in dict(EXPIRY_WINDOWS):
        qs = qs.filter(state__in=OPEN_STATES, expires_on__gte=on, expires_on__lte=on + dt.timedelta(days=int(expiry)))
    elif expiry == "expired":
        # Expired by the scheduler, or past their last day and waiting for it.
        qs = qs.filter(Q(state=State.EXPIRED) | Q(state__in=OPEN_STATES, expires_on__lt=on))
    if mine == "requested":
        qs = qs.filter(requester=user)
    elif mine == "owned":
        qs = qs.filter(owner=user)
    return _with_approvals(qs).order_by("-created_at", "-pk")


def expiring_soon(*, user, on: dt.date | None = None, limit: int = 20) -> list[ExceptionRequest]:
    """Approved exceptions ``user`` may view whose last day falls within the largest reminder
    window, soonest first: the in-app counterpart of the reminder e-mails."""
    on = on or today()
    qs = visible_exceptions(user=user).filter(
        state=State.APPROVED, expires_on__gte=on, expires_on__lte=on + dt.timedelta(days=reminder_window())
    )
    return with_expiry(list(qs.select_related("owner").order_by("expires_on", "pk")[:limit]), on=on)


def owner_choices(*, user) -> QuerySet[User]:
    """The owners of the exceptions ``user`` may view (for the owner filter)."""
    return User.objects.filter(owned_exceptions__in=visible_exceptions(user=user)).distinct().order_by("username")


def rule_choices() -> list[tuple[str, str]]:
    """``(rule id, "id — title")`` for every registered rule, for filters and the request form."""
    from apps.evaluation.selectors import registered_rule_ids

    choices = []
    for rule_id in registered_rule_ids():
        info = rule_info(rule_id)
        choices.append((rule_id, f"{rule_id} — {info.title}" if info.title else rule_id))
    return choices


# --- display helpers -----------------------------------------------------------------------


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def scope_summary(exception: ExceptionRequest) -> str:
    """The scope in a few words ("2 credentials, tag team=payments"); "every subject" when broad."""
    scope = exception.scope if isinstance(exception.scope, dict) else {}
    parts = []
    for key, word in (("credential_ids", "credential"), ("identity_ids", "identity"), ("source_ids", "source")):
        if scope.get(key):
            parts.append(_plural(len(scope[key]), word).replace("identitys", "identities"))
    tag = scope.get("tag")
    if isinstance(tag, dict) and tag.get("key"):
        parts.append(f"tag {tag['key']}={tag.get('value', '')}")
    if not parts:
        return "every subject of its rules" if exception.scope_is_broad else "nothing"
    return ", ".join(parts)


def expiry_note(exception: ExceptionRequest, *, on: dt.date) -> str:
    """ "in N days" / "last day today" / "expired" for an exception still open; "" once it ended otherwise."""
    if exception.state == State.EXPIRED:
        return "expired"
    if exception.state not in OPEN_STATES:
        return ""
    days = (exception.expires_on - on).days
    if days < 0:
        return "expired"
    if days == 0:
        return "last day today"
    return f"in {_plural(days, 'day')}"


def with_expiry(exceptions, *, on: dt.date | None = None):
    """Set ``days_left``, ``expiry_note`` and ``scope_summary`` on each exception (no query)."""
    on = on or today()
    for e in exceptions:
        e.days_left = (e.expires_on - on).days
        e.expiry_note = expiry_note(e, on=on)
        e.scope_summary = scope_summary(e)
    return exceptions


# --- the approval queue -------------------------------------------------------------------


def approval_queue(*, user) -> QuerySet[ExceptionRequest]:
    """Pending exceptions ``user`` may decide and has not decided yet, except those they
    requested or own (separation of duties), oldest submission first."""
    decidable = objects_for(user, DECIDE, visible_exceptions(user=user))
    return (
        _with_approvals(decidable.filter(state=State.PENDING))
        .exclude(requester=user)
        .exclude(owner=user)
        .exclude(decisions__approver=user)
        .order_by("submitted_at", "created_at", "pk")
    )


# --- one exception --------------------------------------------------------------------------


def exception_get(*, pk: int) -> ExceptionRequest:
    return _with_approvals(ExceptionRequest.objects.filter(pk=pk)).select_related("renewal_of").get()


def exception_decisions(*, exception: ExceptionRequest) -> list[ExceptionDecision]:
    return list(exception.decisions.select_related("approver").order_by("decided_at", "pk"))


@dataclass
class ScopeItem:
    kind: str  # credential | identity | source
    id: int
    name: str = ""  # empty when the user may not view it or it is not in the inventory
    source_name: str = ""
    visible: bool = False
    present: bool = True  # False: disappeared (credential, identity) or disabled (source)
    known: bool = True  # False: no such object in the inventory


@dataclass
class ResolvedScope:
    items: list[ScopeItem] = field(default_factory=list)
    tag: dict | None = None
    broad: bool = False

    def of(self, kind: str) -> list[ScopeItem]:
        return [i for i in self.items if i.kind == kind]

    @property
    def credentials(self):
        return self.of("credential")

    @property
    def identities(self):
        return self.of("identity")

    @property
    def sources(self):
        return self.of("source")


def scope_resolved(*, exception: ExceptionRequest, user) -> ResolvedScope:
    """The scope's ids as names, each marked visible when ``user`` may view its source (then
    its page may be linked). Names of what the user may not view are withheld. Four queries."""
    scope = exception.scope if isinstance(exception.scope, dict) else {}
    allowed = set(visible_sources(user=user).values_list("pk", flat=True))
    result = ResolvedScope(tag=scope.get("tag") or None, broad=exception.scope_is_broad)
    specs = (
        (
            "credential",
            "credential_ids",
            Credential.objects.select_related("source").only("id", "name", "disappeared_at", "source__name", "source_id"),
        ),
        (
            "identity",
            "identity_ids",
            Identity.objects.select_related("source").only("id", "name", "disappeared_at", "source__name", "source_id"),
        ),
    )
    for kind, key, qs in specs:
        ids = [i for i in scope.get(key) or [] if isinstance(i, int)]
        found = {o.pk: o for o in qs.filter(pk__in=ids)} if ids else {}
        for pk in ids:
            obj = found.get(pk)
            if obj is None:
                result.items.append(ScopeItem(kind, pk, known=False))
                continue
            visible = obj.source_id in allowed
            result.items.append(
                ScopeItem(
                    kind, pk, obj.name if visible else "", obj.source.name if visible else "", visible, present=obj.disappeared_at is None
                )
            )
    ids = [i for i in scope.get("source_ids") or [] if isinstance(i, int)]
    found = {s.pk: s for s in Source.objects.filter(pk__in=ids).only("id", "name", "enabled")} if ids else {}
    for pk in ids:
        source = found.get(pk)
        if source is None:
            result.items.append(ScopeItem("source", pk, known=False))
        else:
            visible = pk in allowed
            result.items.append(ScopeItem("source", pk, source.name if visible else "", "", visible, present=source.enabled))
    return result


def rules_of(exception: ExceptionRequest):
    """The exception's rules with their titles (a retired id says so)."""
    return [rule_info(rule_id) for rule_id in exception.rule_ids or []]


@dataclass
class RenewalChain:
    items: list[ExceptionRequest]  # oldest first, the exception itself included
    hidden: int = 0  # links of the chain the user may not view

    def __len__(self) -> int:
        return len(self.items)


def renewal_chain(*, exception: ExceptionRequest, user, limit: int = 50) -> RenewalChain:
    """Every request linked to ``exception`` by renewal, both ways (what it renews, and what
    renews it, renewals of renewals included), oldest first, narrowed to those ``user`` may view."""
    ids = {exception.pk}
    parent = exception.renewal_of_id
    while parent and parent not in ids and len(ids) < limit:
        ids.add(parent)
        parent = ExceptionRequest.objects.filter(pk=parent).values_list("renewal_of_id", flat=True).first()
    frontier = {exception.pk}
    while frontier and len(ids) < limit:
        frontier = set(ExceptionRequest.objects.filter(renewal_of_id__in=frontier).values_list("pk", flat=True)) - ids
        ids |= frontier
    if len(ids) == 1:
        return RenewalChain([exception])
    visible = list(visible_exceptions(user=user).filter(pk__in=ids).select_related("owner").order_by("created_at", "pk"))
    return RenewalChain(with_expiry(visible), hidden=len(ids) - len(visible))


@dataclass
class ExcusedFindings:
    evaluation: Evaluation | None
    findings: list[Finding]
    total: int  # in the sources the user may view
    narrowed: bool


def excused_findings(*, exception: ExceptionRequest, user, limit: int = 25) -> ExcusedFindings:
    """The findings of the latest evaluation excepted by ``exception``, about the sources
    ``user`` may view: the first ``limit`` and how many in all."""
    evaluation = latest_evaluation()
    narrowed = not has_perm(user, "inventory.view_source")
    if evaluation is None:
        return ExcusedFindings(None, [], 0, narrowed)
    qs = Finding.objects.filter(evaluation=evaluation, exception_id=exception.pk, source__in=visible_sources(user=user))
    total = qs.count()
    findings = list(qs.select_related("source").defer("data").order_by("rule_id", "subject_label", "pk")[:limit]) if total else []
    return ExcusedFindings(evaluation, findings, total, narrowed)


# --- the register as of a point in time (the evidence pack) ---------------------------------


class DecisionAsOf(TypedDict):
    approver: str
    decision: str
    comment: str
    decided_at: str | None


class ExceptionAsOf(TypedDict):
    id: int
    ref: str
    title: str
    state: str  # as of T, from the timestamps (state_as_of)
    in_force: bool  # approved and not expired as of T
    risk: str
    rule_ids: list[str]
    scope: dict[str, Any]
    scope_is_broad: bool
    justification: str
    compensating_controls: str
    ticket_ref: str
    owner: str
    requester: str
    expires_on: str
    renewal_of: str | None  # the renewed exception's ref
    created_at: str | None
    submitted_at: str | None
    decided_at: str | None
    ended_at: str | None
    decisions: list[DecisionAsOf]  # taken by T, oldest first


def state_as_of(exception: ExceptionRequest, as_of: dt.datetime) -> str:
    """The state ``exception`` was in at ``as_of``, rebuilt from its timestamps: draft,
    pending, approved (or expired once its last day has passed), rejected, or how it ended."""
    if exception.ended_at and exception.ended_at <= as_of:
        return exception.state
    if exception.decided_at and exception.decided_at <= as_of:
        if exception.state == State.REJECTED:
            return State.REJECTED
        return State.EXPIRED if exception.expires_on < as_of.date() else State.APPROVED
    if exception.submitted_at and exception.submitted_at <= as_of:
        return State.PENDING
    return State.DRAFT


def exceptions_as_of(*, as_of: dt.datetime) -> list[ExceptionAsOf]:
    """Every exception created by ``as_of``, by id, in its state then, with only the decisions
    taken by then; a timestamp after ``as_of`` shows as None. Two queries."""
    rows = list(ExceptionRequest.objects.filter(created_at__lte=as_of).select_related("owner", "requester", "renewal_of").order_by("id"))
    decisions: dict[int, list[DecisionAsOf]] = defaultdict(list)
    for d in (
        ExceptionDecision.objects.filter(exception__in=rows, decided_at__lte=as_of)
        .select_related("approver")
        .order_by("exception_id", "decided_at", "id")
    ):
        decisions[d.exception_id].append(
            {"approver": d.approver.get_username(), "decision": d.decision, "comment": d.comment, "decided_at": iso_utc(d.decided_at)}
        )
    out: list[ExceptionAsOf] = []
    for e in rows:
        state = state_as_of(e, as_of)
        out.append(
            {
                "id": e.id,
                "ref": e.ref,
                "title": e.title,
                "state": state,
                "in_force": state == State.APPROVED,
                "risk": e.risk,
                "rule_ids": list(e.rule_ids),
                "scope": e.scope,
                "scope_is_broad": e.scope_is_broad,
                "justification": e.justification,
                "compensating_controls": e.compensating_controls,
                "ticket_ref": e.ticket_ref,
                "owner": e.owner.get_username(),
                "requester": e.requester.get_username(),
                "expires_on": e.expires_on.isoformat(),
                "renewal_of": e.renewal_of.ref if e.renewal_of is not None else None,
                "created_at": iso_utc(e.created_at),
                "submitted_at": iso_utc(e.submitted_at) if e.submitted_at and e.submitted_at <= as_of else None,
                "decided_at": iso_utc(e.decided_at) if e.decided_at and e.decided_at <= as_of else None,
                "ended_at": iso_utc(e.ended_at) if e.ended_at and e.ended_at <= as_of else None,
                "decisions": decisions.get(e.id, []),
            }
        )
    return out


def exceptions_in_scope(
    exceptions: list[ExceptionAsOf], *, source_ids: list[int] | None, rule_ids: set[str], tags: set[tuple[str, str]], keep: set[int]
) -> list[ExceptionAsOf]:
    """The exceptions that concern an engagement's scope, as an exception's page resolves its
    scope (each item visible with its source): those whose rules include one of ``rule_ids``
    and whose scope reaches the sources ``source_ids`` (None: every source) — a source among
    them, a credential or identity collected from one, a tag that one of their subjects
    carries (``tags``: ``(key, value)`` pairs), or every subject (confirmed broad) — plus
    those in ``keep`` (the ones findings in scope name). Two queries."""
    if source_ids is None:
        return [e for e in exceptions if e["id"] in keep or set(e["rule_ids"]) & rule_ids]
    sources = set(source_ids)

    def id_list(e: ExceptionAsOf, key: str) -> list[int]:
        return [i for i in (e["scope"] or {}).get(key) or [] if isinstance(i, int) and not isinstance(i, bool)]

    credential_source = dict(
        Credential.objects.filter(id__in={i for e in exceptions for i in id_list(e, "credential_ids")}).values_list("id", "source_id")
    )
    identity_source = dict(
        Identity.objects.filter(id__in={i for e in exceptions for i in id_list(e, "identity_ids")}).values_list("id", "source_id")
    )

    def reaches(e: ExceptionAsOf) -> bool:
        tag = (e["scope"] or {}).get("tag")
        return (
            e["scope_is_broad"]
            or bool(sources & set(id_list(e, "source_ids")))
            or any(credential_source.get(i) in sources for i in id_list(e, "credential_ids"))
            or any(identity_source.get(i) in sources for i in id_list(e, "identity_ids"))
            or (isinstance(tag, dict) and (str(tag.get("key")), str(tag.get("value"))) in tags)
        )

    return [e for e in exceptions if e["id"] in keep or (set(e["rule_ids"]) & rule_ids and reaches(e))]
