"""The exception register's pages: the register (with the "Expiring soon" box), a request,
one exception with its actions, and the approval queue.

Viewing an exception takes ``view_exceptionrequest`` (by role, or per object for its
requester and owner): 404 otherwise. Requesting takes ``request_exception``; approving and
rejecting ``decide_exception``; revoking ``revoke_exception`` (403 when the exception is
visible). Each action posts to its own URL and calls one service, which checks again, and
alone enforces separation of duties: a requester or owner who forges an approval is refused
there (PermissionRefused, a recorded 403). A refusal for the state or the input
(IllegalTransition, ValidationFailed) changes nothing and is shown on the exception's page.
"""

from django.contrib import messages
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.audit.access import require, require_object
from apps.audit.selectors import audit_events_for
from apps.core.errors import IllegalTransition, ValidationFailed
from apps.core.export import export_format, export_response
from apps.core.pagination import paginate
from apps.core.permissions import has_perm
from apps.exceptions_register import scoping, selectors
from apps.exceptions_register.exports import EXCEPTION_COLUMNS
from apps.exceptions_register.forms import CommentForm, ExceptionRequestForm, RenewForm
from apps.exceptions_register.models import ExceptionRequest
from apps.exceptions_register.services import (
    exception_approve,
    exception_close,
    exception_reject,
    exception_renew,
    exception_request,
    exception_request_check,
    exception_revoke,
    exception_submit,
)

VIEW = selectors.VIEW
DECIDE = selectors.DECIDE
REQUEST = "exceptions_register.request_exception"
REVOKE = "exceptions_register.revoke_exception"
REGISTER_FILTERS = ("state", "rule", "owner", "risk", "expiry", "mine")
State = ExceptionRequest.State


def _filters(request, names) -> dict[str, str]:
    return {k: request.GET.get(k, "").strip()[:100] for k in names}


def _partial_or_page(request, partial: str, page: str) -> str:
    return partial if request.headers.get("HX-Request") else page


def _exception_or_404(pk: int) -> ExceptionRequest:
    try:
        return selectors.exception_get(pk=pk)
    except ExceptionRequest.DoesNotExist:
        raise Http404("Not found") from None


# --- the register ------------------------------------------------------------------------


@require_GET
def exception_list_view(request):
    """Every exception the user may view (none is refused: the list is narrowed)."""
    user = request.user
    filters = _filters(request, REGISTER_FILTERS)
    on = selectors.today()
    exceptions = selectors.exception_list(user=user, on=on, **filters)
    fmt = export_format(request)
    if fmt:
        return export_response(rows=exceptions.iterator(chunk_size=2000), columns=EXCEPTION_COLUMNS, fmt=fmt, name="exceptions")
    page = paginate(request, exceptions, per_page=50)
    selectors.with_expiry(page, on=on)
    context = {
        "page": page,
        "filters": filters,
        "expiring": selectors.expiring_soon(user=user, on=on),
        "reminder_window": selectors.reminder_window(),
        "states": State.choices,
        "risks": ExceptionRequest.Risk.choices,
        "rules": selectors.rule_choices(),
        "owners": selectors.owner_choices(user=user),
        "windows": selectors.EXPIRY_WINDOWS,
        "mine_choices": selectors.MINE,
        "narrowed": not has_perm(user, VIEW),
        "can_decide": has_perm(user, DECIDE),
    }
    return render(
        request, _partial_or_page(request, "exceptions_register/_exception_rows.html", "exceptions_register/exception_list.html"), context
    )


@require_GET
def approval_queue_view(request):
    require(request, DECIDE)
    page = paginate(request, selectors.approval_queue(user=request.user), per_page=50)
    selectors.with_expiry(page)
    return render(request, "exceptions_register/queue.html", {"page": page, "filters": {}, "can_decide": True})


# --- a request ---------------------------------------------------------------------------


PICKER_FIELDS = (
    ("rule", "rule_ids", "Rules"),
    *((kind, f"{kind}_ids", label) for kind, label in (("credential", "Credentials"), ("identity", "Identities"), ("source", "Sources"))),
)


def _chosen(request, data) -> list[dict]:
    """Each picker with what is chosen in ``data`` (a QueryDict or the form's initial), by name."""
    pickers = []
    for kind, name, label in PICKER_FIELDS:
        ids = data.getlist(name) if hasattr(data, "getlist") else list(data.get(name) or [])
        chosen = scoping.picks(user=request.user, kind=kind, ids=ids) if ids else []
        pickers.append({"kind": kind, "name": name, "label": label, "chosen": chosen})
    return pickers


@require_http_methods(["GET", "POST"])
def exception_create_view(request):
    require(request, REQUEST)
    if request.method == "POST":
        form = ExceptionRequestForm(request.POST)
        if not form.is_valid():
            # The form's own errors, and every refusal of the service for the other fields: all at once.
            form.add_service_errors(exception_request_check(**form.service_kwargs()).errors)
        else:
            draft = request.POST.get("action") == "draft"
            try:
                outcome = exception_request(actor=request.user, submit=not draft, **form.service_kwargs())
            except ValidationFailed as exc:
                form.add_service_errors(exc.messages)
            else:
                exception = outcome.exception
                messages.success(
                    request,
                    f"{exception.ref} saved as a draft; submit it when it is ready."
                    if draft
                    else f"{exception.ref} requested; it awaits {exception.required_approvals} approval"
                    f"{'s' if exception.required_approvals != 1 else ''}.",
                )
                for warning in outcome.warnings:
                    messages.warning(request, warning)
                return redirect("exceptions:detail", pk=exception.pk)
        pickers = _chosen(request, request.POST)
    else:
        form = ExceptionRequestForm(initial=ExceptionRequestForm.initial_from_query(request.GET, user=request.user))
        pickers = _chosen(request, form.initial)
    context = {"form": form, "pickers": pickers, "can_decide": has_perm(request.user, DECIDE)}
    return render(request, "exceptions_register/exception_form.html", context)


@require_GET
def scope_pick_view(request):
    """A picker's chosen items (the boxes ticked, kept) and what matches its search (htmx)."""
    require(request, REQUEST)
    kind = request.GET.get("kind", "")
    names = {k: n for k, n, _ in PICKER_FIELDS}
    if kind not in names:
        return HttpResponseBadRequest("Unknown picker.")
    chosen = scoping.picks(user=request.user, kind=kind, ids=request.GET.getlist(names[kind])) if request.GET.getlist(names[kind]) else []
    taken = {p.id for p in chosen}
    found = [p for p in scoping.picks(user=request.user, kind=kind, q=request.GET.get("q", "")) if p.id not in taken]
    context = {"picker": {"kind": kind, "name": names[kind], "chosen": chosen}, "found": found, "q": request.GET.get("q", "")}
    return render(request, "exceptions_register/_picker_body.html", context)


@require_GET
def excusable_view(request):
    """What the scope being chosen would excuse now, and the risk its rules call for (htmx)."""
    require(request, REQUEST)
    rule_ids = [r for r in request.GET.getlist("rule_ids") if r in dict(selectors.rule_choices())]
    scope: dict = {}
    for _, name, _ in PICKER_FIELDS[1:]:
        ids = sorted({int(v) for v in request.GET.getlist(name) if v.isdigit()})
        if ids:
            scope[name] = ids
    tag_key, tag_value = request.GET.get("tag_key", "").strip()[:128], request.GET.get("tag_value", "").strip()[:256]
    if tag_key and tag_value:
        scope["tag"] = {"key": tag_key, "value": tag_value}
    broad = not scope and request.GET.get("confirm_broad") == "on"
    severity = scoping.rules_severity(rule_ids)
    risk = request.GET.get("risk", "")
    context = {
        "rule_ids": rule_ids,
        "scoped": bool(scope) or broad,
        "excusable": scoping.excusable_findings(rule_ids=rule_ids, scope=scope, broad=broad) if rule_ids and (scope or broad) else None,
        "severity": severity,
        "risk_below": bool(severity and risk in scoping.SEVERITIES and scoping.SEVERITIES.index(risk) < scoping.SEVERITIES.index(severity)),
    }
    return render(request, "exceptions_register/_excusable.html", context)


# --- one exception ---------------------------------------------------------------------------


def _actions(user, exception: ExceptionRequest) -> dict[str, bool]:
    """Which action forms to show. Only what is shown: each view and service checks again."""
    is_party = user.pk in (exception.requester_id, exception.owner_id)
    open_renewal = any(r.state != State.REJECTED for r in exception.renewals.all())
    return {
        "decide": exception.state == State.PENDING
        and has_perm(user, DECIDE, exception)
        and not is_party
        and not any(d.approver_id == user.pk for d in exception.decision_rows),
        "revoke": exception.state == State.APPROVED and has_perm(user, REVOKE, exception),
        "close": exception.state == State.APPROVED and (is_party or has_perm(user, REVOKE, exception)),
        "submit": exception.state == State.DRAFT and user.pk == exception.requester_id,
        "renew": exception.state in (State.APPROVED, State.EXPIRED) and has_perm(user, REQUEST) and not open_renewal,
    }


def _detail(request, exception: ExceptionRequest, **bound):
    """The exception's page; ``bound`` replaces an action's empty form with the bound one that failed."""
    user = request.user
    exception.decision_rows = selectors.exception_decisions(exception=exception)
    selectors.with_expiry([exception])
    context = {
        "exception": exception,
        "rules": selectors.rules_of(exception),
        "scope": selectors.scope_resolved(exception=exception, user=user),
        "decisions": exception.decision_rows,
        "chain": selectors.renewal_chain(exception=exception, user=user),
        "excused": selectors.excused_findings(exception=exception, user=user),
        "history": audit_events_for(exception),
        "actions": _actions(user, exception),
        "can_decide": has_perm(user, DECIDE),
        "approve_form": bound.get("approve_form") or CommentForm(prefix="approve", label="Why you approve"),
        "reject_form": bound.get("reject_form") or CommentForm(prefix="reject", label="Why you reject"),
        "revoke_form": bound.get("revoke_form") or CommentForm(prefix="revoke", label="Why it is revoked"),
        "close_form": bound.get("close_form") or CommentForm(prefix="close", required=False, label="Comment (optional)"),
        "renew_form": bound.get("renew_form")
        or RenewForm(prefix="renew", initial={"compensating_controls": exception.compensating_controls}),
    }
    return render(request, "exceptions_register/exception_detail.html", context)


@require_GET
def exception_detail_view(request, pk: int):
    exception = _exception_or_404(pk)
    require_object(request, exception, VIEW)
    return _detail(request, exception)


def _act(request, pk: int, *, action_perm: str | None, form_name: str, form, run, done):
    """The steps of every action: may the user see it (404), act on it (403); then the one
    service (``run``), whose result ``done`` describes. A refusal for the state or the input
    is shown on the page (at the field it names too) and nothing is changed."""
    exception = _exception_or_404(pk)
    require_object(request, exception, VIEW, action_perm)
    if form.is_valid():
        try:
            result = run(exception, form.cleaned_data)
        except (IllegalTransition, ValidationFailed) as exc:
            messages.error(request, f"Nothing was changed: {exc}")
            form.add_service_error(str(exc), field_only=True)
        else:
            messages.success(request, done(result))
            return redirect("exceptions:detail", pk=exception.pk)
    else:
        messages.error(request, "Nothing was changed: correct the form below.")
    # The service changed a locked copy in a transaction that rolled back: ``exception`` is as stored.
    return _detail(request, exception, **{form_name: form})


@require_POST
def exception_approve_view(request, pk: int):
    # decide_exception is checked here; that the approver is neither requester nor owner only
    # by the service (so a forged post by either is refused and recorded there).
    return _act(
        request,
        pk,
        action_perm=DECIDE,
        form_name="approve_form",
        form=CommentForm(request.POST, prefix="approve"),
        run=lambda e, d: exception_approve(actor=request.user, exception=e, comment=d["comment"]),
        done=lambda e: (
            f"{e.ref} is approved."
            if e.state == State.APPROVED
            else f"Your approval of {e.ref} is recorded ({e.approvals_count} of {e.required_approvals}); it awaits another approver."
        ),
    )


@require_POST
def exception_reject_view(request, pk: int):
    return _act(
        request,
        pk,
        action_perm=DECIDE,
        form_name="reject_form",
        form=CommentForm(request.POST, prefix="reject"),
        run=lambda e, d: exception_reject(actor=request.user, exception=e, comment=d["comment"]),
        done=lambda e: f"{e.ref} is rejected.",
    )


@require_POST
def exception_revoke_view(request, pk: int):
    return _act(
        request,
        pk,
        action_perm=REVOKE,
        form_name="revoke_form",
        form=CommentForm(request.POST, prefix="revoke"),
        run=lambda e, d: exception_revoke(actor=request.user, exception=e, comment=d["comment"]),
        done=lambda e: f"{e.ref} is revoked; its findings fail again from the next evaluation.",
    )


@require_POST
def exception_close_view(request, pk: int):
    # Owner, requester or a holder of revoke_exception: the service decides.
    return _act(
        request,
        pk,
        action_perm=None,
        form_name="close_form",
        form=CommentForm(request.POST, prefix="close", required=False),
        run=lambda e, d: exception_close(actor=request.user, exception=e, comment=d["comment"]),
        done=lambda e: f"{e.ref} is closed; what it excused fails again from the next evaluation unless fixed.",
    )


@require_POST
def exception_submit_view(request, pk: int):
    # Only the requester submits their draft: the service decides.
    return _act(
        request,
        pk,
        action_perm=None,
        form_name="submit_form",
        form=CommentForm({}, required=False),
        run=lambda e, d: exception_submit(actor=request.user, exception=e),
        done=lambda e: f"{e.ref} is submitted for approval.",
    )


@require_POST
def exception_renew_view(request, pk: int):
    exception = _exception_or_404(pk)
    require_object(request, exception, VIEW, REQUEST)
    form = RenewForm(request.POST, prefix="renew")
    if form.is_valid():
        data = form.cleaned_data
        try:
            outcome = exception_renew(
                actor=request.user,
                exception=exception,
                expires_on=data["expires_on"],
                justification=data["justification"],
                compensating_controls=data["compensating_controls"] or None,
            )
        except (IllegalTransition, ValidationFailed) as exc:
            messages.error(request, f"Nothing was changed: {exc}")
            form.add_service_error(str(exc), field_only=True)
        else:
            messages.success(
                request,
                f"{outcome.exception.ref} renews {exception.ref}; it needs approval again. "
                f"{exception.ref} runs until {exception.expires_on:%Y-%m-%d} or until it is closed.",
            )
            for warning in outcome.warnings:
                messages.warning(request, warning)
            return redirect("exceptions:detail", pk=outcome.exception.pk)
    else:
        messages.error(request, "Nothing was changed: correct the renewal below.")
    return _detail(request, exception, renew_form=form)
