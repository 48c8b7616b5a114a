"""The exception workflow. Every state change goes through a function here, checks who may
do it (separation of duties included), refuses illegal transitions with a clear message,
and writes its audit event in the same transaction.

    draft ─submit─► pending ─approve (×required)─► approved ─┬─ expire ─► expired
                       │                                      ├─ revoke ─► revoked
                       └─reject─► rejected                    └─ close ──► closed
    renew: a new request (renewal_of = the old one) that goes through approval again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from guardian.shortcuts import assign_perm

from apps.audit import events
from apps.core import pipeline
from apps.core.errors import IllegalTransition, PermissionRefused, ValidationFailed
from apps.core.permissions import has_perm
from apps.core.scope import clean_ids, clean_tag
from apps.evaluation.rules.registry import RULES
from apps.exceptions_register.models import ExceptionDecision, ExceptionReminder, ExceptionRequest
from apps.exceptions_register.scoping import excusable_findings, rules_severity
from apps.inventory.models import Credential, Identity, Source

State = ExceptionRequest.State


@dataclass
class RequestOutcome:
    exception: ExceptionRequest
    warnings: list[str] = field(default_factory=list)


def _require(actor, perm: str, obj=None) -> None:
    if not has_perm(actor, perm, obj):
        raise PermissionRefused(f"{actor} may not {perm.split('.', 1)[1].replace('_', ' ')}")


def _today() -> dt.date:
    return timezone.now().date()


def max_days_for(risk: str) -> int:
    return int(settings.KEYTRAIL_EXCEPTION_MAX_DAYS[risk])


def normalise_scope(scope: dict) -> dict:
    """``{"credential_ids": [...], "identity_ids": [...], "source_ids": [...], "tag": {"key", "value"}}``
    with ids as sorted unique ints and empty parts dropped; raises ValidationFailed."""
    if not isinstance(scope, dict):
        raise ValidationFailed("Scope: expected credentials, identities, sources or a tag.")
    unknown = set(scope) - {"credential_ids", "identity_ids", "source_ids", "tag"}
    if unknown:
        raise ValidationFailed(f"Scope: unknown parts {', '.join(sorted(unknown))}.")
    clean: dict = {}
    for part in ("credential_ids", "identity_ids", "source_ids"):
        ids = clean_ids(scope.get(part), part.replace("_", " "))
        if ids:
            clean[part] = ids
    tag = clean_tag(scope.get("tag"))
    if tag:
        clean["tag"] = tag
    return clean


def scope_population(scope: dict) -> int:
    """How many present credentials, identities and sources the scope names (0 = matches nothing)."""
    count = 0
    if scope.get("credential_ids"):
        count += Credential.objects.filter(pk__in=scope["credential_ids"], disappeared_at__isnull=True).count()
    if scope.get("identity_ids"):
        count += Identity.objects.filter(pk__in=scope["identity_ids"], disappeared_at__isnull=True).count()
    if scope.get("source_ids"):
        count += Source.objects.filter(pk__in=scope["source_ids"], enabled=True).count()
    if scope.get("tag"):
        key, value = scope["tag"]["key"], scope["tag"]["value"]
        count += Credential.objects.filter(disappeared_at__isnull=True, **{f"tags__{key}": value}).count() if key.isidentifier() else 0
    return count


RISK_ORDER = ("low", "medium", "high", "critical")  # ExceptionRequest.Risk, least first (the rules' severities)


def _check(
    *, title: str, rule_ids, justification: str, compensating_controls: str, risk: str, risk_reason: str, expires_on: dt.date | None
) -> tuple[list[str], list[str]]:
    """(the rule ids, every refusal): all of them, so a form shows them together."""
    errors = []
    if not (title or "").strip():
        errors.append("Title: say what the exception is for.")
    rule_ids = list(dict.fromkeys(rule_ids or []))
    unknown = [r for r in rule_ids if r not in RULES]
    if not rule_ids:
        errors.append("Rules: name at least one rule the exception excuses.")
    elif unknown:
        errors.append(f"Rules: unknown rule id(s) {', '.join(unknown[:5])}.")
    if not (justification or "").strip():
        errors.append("Justification: explain why the rule cannot be met.")
    if not (compensating_controls or "").strip():
        errors.append("Compensating controls: say what reduces the risk meanwhile.")
    if risk not in ExceptionRequest.Risk.values:
        errors.append(f"Risk: choose one of {', '.join(ExceptionRequest.Risk.values)}.")
    else:
        severity = rules_severity([r for r in rule_ids if r in RULES])
        if severity and RISK_ORDER.index(risk) < RISK_ORDER.index(severity) and not (risk_reason or "").strip():
            errors.append(f"Risk reason: the rules' highest severity is {severity}; say why the risk is only {risk} (approvers read it).")
    today = _today()
    if expires_on is None or expires_on <= today:
        errors.append("Expiry: an exception must end on a future date.")
    elif risk in ExceptionRequest.Risk.values:
        limit = today + dt.timedelta(days=max_days_for(risk))
        if expires_on > limit:
            errors.append(f"Expiry: a {risk}-risk exception may last at most {max_days_for(risk)} days (until {limit:%Y-%m-%d}).")
    return rule_ids, errors


def _next_ref() -> str:
    last = ExceptionRequest.objects.order_by("-id").values_list("ref", flat=True).first()
    number = int(last.split("-")[1]) + 1 if last else 1
    return f"EXC-{number:04d}"


@dataclass
class RequestCheck:
    rule_ids: list[str]
    scope: dict
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def exception_request_check(
    *,
    title: str,
    rule_ids: list[str],
    scope: dict,
    justification: str,
    compensating_controls: str,
    risk: str,
    owner,
    expires_on: dt.date | None,
    confirm_broad: bool = False,
    risk_reason: str = "",
    **_ignored,
) -> RequestCheck:
    """Every refusal a request would meet, at once (no permission check, nothing changed): a
    form shows them together. ``owner`` may be None (not chosen)."""
    rule_ids, errors = _check(
        title=title,
        rule_ids=rule_ids,
        justification=justification,
        compensating_controls=compensating_controls,
        risk=risk,
        risk_reason=risk_reason,
        expires_on=expires_on,
    )
    warnings: list[str] = []
    try:
        clean = normalise_scope(scope)
    except ValidationFailed as exc:
        errors.extend(exc.messages)
        clean = {}
    else:
        if not clean and not confirm_broad:
            errors.append("Scope: an empty scope excuses every subject of these rules; narrow it, or confirm that is intended.")
        elif rule_ids and all(r in RULES for r in rule_ids):
            excusable = excusable_findings(rule_ids=rule_ids, scope=clean, broad=not clean)
            if excusable.evaluation is not None and excusable.count == 0:
                errors.append(
                    f"Scope: it excuses no failing finding of these rules in the latest evaluation (#{excusable.evaluation.pk}); "
                    "choose the subjects that fail them."
                )
            elif excusable.evaluation is None and clean and scope_population(clean) == 0:
                warnings.append("The scope matches no present credential, identity or source: the exception will excuse nothing today.")
    if owner is None:
        errors.append("Owner: choose who answers for the exception.")
    elif not owner.is_active:
        errors.append(f"Owner: {owner} is deactivated.")
    return RequestCheck(rule_ids, clean, errors, warnings)


def exception_request(
    *,
    actor,
    title: str,
    rule_ids: list[str],
    scope: dict,
    justification: str,
    compensating_controls: str,
    risk: str,
    owner,
    expires_on: dt.date,
    ticket_ref: str = "",
    confirm_broad: bool = False,
    submit: bool = True,
    renewal_of=None,
    risk_reason: str = "",
) -> RequestOutcome:
    """Create a request (pending unless ``submit`` is False). Refused, with every reason at
    once (ValidationFailed with ``messages``; see :func:`exception_request_check`), for a risk
    below the rules' highest severity without a ``risk_reason``, an empty (match-everything)
    scope unless ``confirm_broad``, a scope that excuses no failing finding of the rules in
    the latest evaluation (before any evaluation: a warning when it matches nothing present)."""
    _require(actor, "exceptions_register.request_exception")
    check = exception_request_check(
        title=title,
        rule_ids=rule_ids,
        scope=scope,
        justification=justification,
        compensating_controls=compensating_controls,
        risk=risk,
        owner=owner,
        expires_on=expires_on,
        confirm_broad=confirm_broad,
        risk_reason=risk_reason,
    )
    if check.errors:
        raise ValidationFailed(*check.errors)
    rule_ids, scope, warnings = check.rule_ids, check.scope, check.warnings
    now = timezone.now()
    for attempt in range(3):
        try:
            with transaction.atomic():
                exception = ExceptionRequest.objects.create(
                    ref=_next_ref(),
                    title=title.strip()[:200],
                    rule_ids=rule_ids,
                    scope=scope,
                    scope_is_broad=not scope,
                    justification=justification.strip(),
                    compensating_controls=compensating_controls.strip(),
                    risk=risk,
                    risk_reason=(risk_reason or "").strip(),
                    ticket_ref=ticket_ref.strip()[:100],
                    owner=owner,
                    requester=actor,
                    expires_on=expires_on,
                    state=State.PENDING if submit else State.DRAFT,
                    submitted_at=now if submit else None,
                    required_approvals=2 if risk in settings.KEYTRAIL_EXCEPTION_TWO_APPROVALS else 1,
                    renewal_of=renewal_of,
                )
                for user in {actor, owner}:
                    assign_perm("view_exceptionrequest", user, exception)
                events.exception_requested(actor=actor, exception=exception, warnings=warnings)
                return RequestOutcome(exception, warnings)
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _locked(exception: ExceptionRequest) -> ExceptionRequest:
    return ExceptionRequest.objects.select_for_update().get(pk=exception.pk)


def _transition(exception: ExceptionRequest, allowed_from: set[str], action: str) -> None:
    if exception.state not in allowed_from:
        raise IllegalTransition(f"{exception.ref} is {exception.get_state_display().lower()}; it cannot be {action}.")


@transaction.atomic
def exception_submit(*, actor, exception: ExceptionRequest) -> ExceptionRequest:
    exception = _locked(exception)
    if actor.pk != exception.requester_id:
        raise PermissionRefused(f"only the requester submits {exception.ref}")
    _transition(exception, {State.DRAFT}, "submitted")
    if exception.expires_on <= _today():
        raise ValidationFailed("Expiry: the date has passed; change it in a new request.")
    exception.state, exception.submitted_at = State.PENDING, timezone.now()
    exception.save(update_fields=["state", "submitted_at"])
    events.exception_transition(actor=actor, exception=exception, from_state=State.DRAFT, comment="")
    pipeline.publish("exception.submitted", exception_id=exception.pk)  # approvers are told (config/pipeline.py)
    return exception


def _decide(*, actor, exception: ExceptionRequest, decision: str, comment: str) -> ExceptionRequest:
    exception = _locked(exception)
    _require(actor, "exceptions_register.decide_exception", exception)
    # Separation of duties, enforced here whatever the interface.
    if actor.pk == exception.requester_id:
        raise PermissionRefused(f"{actor} requested {exception.ref} and may not decide it")
    if actor.pk == exception.owner_id:
        raise PermissionRefused(f"{actor} owns {exception.ref} and may not decide it")
    _transition(exception, {State.PENDING}, "decided")
    if exception.expires_on <= _today():
        raise IllegalTransition(f"{exception.ref} would already have expired on {exception.expires_on:%Y-%m-%d}; it cannot be approved.")
    if not (comment or "").strip():
        raise ValidationFailed("Comment: say why.")
    if exception.decisions.filter(approver=actor).exists():
        raise IllegalTransition(f"{actor} has already decided {exception.ref}.")
    ExceptionDecision.objects.create(exception=exception, approver=actor, decision=decision, comment=comment.strip())
    before = exception.state
    if decision == ExceptionDecision.Decision.REJECT:
        exception.state = State.REJECTED
    elif exception.decisions.filter(decision=ExceptionDecision.Decision.APPROVE).count() >= exception.required_approvals:
        exception.state = State.APPROVED
    if exception.state != before:
        exception.decided_at = timezone.now()
        exception.save(update_fields=["state", "decided_at"])
    events.exception_decided(actor=actor, exception=exception, decision=decision, comment=comment, from_state=before)
    if exception.state == State.APPROVED:
        # The approval that completes the request also gets its own event, so an auditor can
        # filter the trail for exceptions that came into force.
        events.exception_transition(actor=actor, exception=exception, from_state=before, comment=comment)
    # Requester and owner are told of the outcome; the other approvers, of a second approval needed.
    pipeline.publish("exception.decided", exception_id=exception.pk, status=exception.state)
    return exception


@transaction.atomic
def exception_approve(*, actor, exception: ExceptionRequest, comment: str) -> ExceptionRequest:
    """Record an approval; the request is approved once it has its required approvals."""
    return _decide(actor=actor, exception=exception, decision=ExceptionDecision.Decision.APPROVE, comment=comment)


@transaction.atomic
def exception_reject(*, actor, exception: ExceptionRequest, comment: str) -> ExceptionRequest:
    return _decide(actor=actor, exception=exception, decision=ExceptionDecision.Decision.REJECT, comment=comment)


@transaction.atomic
def exception_revoke(*, actor, exception: ExceptionRequest, comment: str) -> ExceptionRequest:
    """End an approved exception now; its findings fail again at the next evaluation."""
    exception = _locked(exception)
    _require(actor, "exceptions_register.revoke_exception", exception)
    _transition(exception, {State.APPROVED}, "revoked")
    if not (comment or "").strip():
        raise ValidationFailed("Comment: say why the exception is revoked.")
    return _end(exception, State.REVOKED, actor=actor, comment=comment)


@transaction.atomic
def exception_close(*, actor, exception: ExceptionRequest, comment: str = "") -> ExceptionRequest:
    """The owner or requester ends an approved exception early (the issue is fixed)."""
    exception = _locked(exception)
    if actor.pk not in (exception.owner_id, exception.requester_id) and not has_perm(
        actor, "exceptions_register.revoke_exception", exception
    ):
        raise PermissionRefused(f"{actor} may not close {exception.ref}")
    _transition(exception, {State.APPROVED}, "closed")
    return _end(exception, State.CLOSED, actor=actor, comment=comment)


def _end(exception: ExceptionRequest, state: str, *, actor, comment: str) -> ExceptionRequest:
    before = exception.state
    exception.state, exception.ended_at = state, timezone.now()
    exception.save(update_fields=["state", "ended_at"])
    events.exception_transition(actor=actor, exception=exception, from_state=before, comment=comment)
    return exception


def exception_expire_due(*, today: dt.date | None = None) -> int:
    """Expire approved and pending requests whose last day has passed. Returns how many.

    Runs on a schedule and at the start of every evaluation, so an expired exception never
    excuses a finding even if the scheduler was down."""
    today = today or _today()
    count = 0
    for pk in ExceptionRequest.objects.filter(state__in=[State.APPROVED, State.PENDING], expires_on__lt=today).values_list("pk", flat=True):
        with transaction.atomic():
            exception = ExceptionRequest.objects.select_for_update().get(pk=pk)
            if exception.state in (State.APPROVED, State.PENDING) and exception.expires_on < today:
                _end(exception, State.EXPIRED, actor=None, comment=f"expired after {exception.expires_on:%Y-%m-%d}")
                count += 1
    return count


def exception_renew(
    *, actor, exception: ExceptionRequest, expires_on: dt.date, justification: str, compensating_controls: str | None = None
) -> RequestOutcome:
    """A renewal is a new request for the same rules and scope, linked to the old one, and
    approved again; the old one runs until it expires or is closed."""
    exception = ExceptionRequest.objects.get(pk=exception.pk)  # the state as stored, not as the caller last saw it
    if exception.state not in (State.APPROVED, State.EXPIRED):
        raise IllegalTransition(
            f"{exception.ref} is {exception.get_state_display().lower()}; only approved or expired exceptions are renewed."
        )
    if exception.renewals.exclude(state__in=[State.REJECTED]).exists():
        raise IllegalTransition(f"{exception.ref} already has a renewal in progress or approved.")
    return exception_request(
        actor=actor,
        title=exception.title,
        rule_ids=exception.rule_ids,
        scope=exception.scope,
        justification=justification,
        compensating_controls=compensating_controls or exception.compensating_controls,
        risk=exception.risk,
        risk_reason=exception.risk_reason,
        owner=exception.owner,
        expires_on=expires_on,
        ticket_ref=exception.ticket_ref,
        confirm_broad=exception.scope_is_broad,
        renewal_of=exception,
    )


def exception_send_reminders(*, today: dt.date | None = None) -> int:
    """Remind the owner and requester of each approved exception that reaches one of the
    reminder marks (e.g. 30, 7 and 1 days before expiry): each mark is recorded once and
    publishes ``exception.expiring`` (the e-mail, with its link, and the webhooks follow after
    commit: apps.notifications). Returns how many reminders were recorded."""
    today = today or _today()
    sent = 0
    marks = sorted(set(settings.KEYTRAIL_EXCEPTION_REMINDER_DAYS), reverse=True)
    for exception in ExceptionRequest.objects.filter(state=State.APPROVED, expires_on__gte=today).select_related("owner", "requester"):
        days_left = (exception.expires_on - today).days
        due = [m for m in marks if days_left <= m]
        if not due:
            continue
        mark = min(due)  # the nearest mark reached; earlier marks missed while down are not re-sent
        recipients = sorted({u.email for u in (exception.owner, exception.requester) if u.email and u.is_active})
        try:
            # The reminder is recorded (once per mark) and its e-mail, with a link to the
            # exception, is sent after commit by apps.notifications, which retries a failing
            # mail server (config/pipeline.py).
            with transaction.atomic():
                reminder = ExceptionReminder.objects.create(exception=exception, days_before=mark, recipients=recipients)
                events.exception_reminded(exception=exception, days_left=days_left, recipients=recipients)
                pipeline.publish("exception.expiring", reminder_id=reminder.pk)
        except IntegrityError:
            continue  # this mark was already sent
        sent += 1
    return sent
