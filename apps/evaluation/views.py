"""The posture pages: dashboard, a sub-requirement's tests and failures, rules, findings,
evaluations and the policy.

Reading posture takes ``evaluation.view_evaluation`` (policy pages
``evaluation.view_policyversion``); those without it get 403, recorded. Findings are
narrowed to the sources the user may view.
"""

import logging

from django.contrib import messages
from django.http import Http404, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.audit.access import require
from apps.catalog.models import Requirement
from apps.catalog.selectors import requirement_get
from apps.core.errors import ValidationFailed
from apps.core.export import export_format, export_response
from apps.core.pagination import paginate
from apps.core.permissions import has_perm
from apps.evaluation import charts, selectors
from apps.evaluation.exports import FINDING_COLUMNS
from apps.evaluation.forms import PolicyForm
from apps.evaluation.models import Evaluation
from apps.evaluation.rules.base import SEVERITIES
from apps.evaluation.services import evaluation_request, policy_update

logger = logging.getLogger(__name__)

VIEW = "evaluation.view_evaluation"
FINDING_FILTERS = ("rule", "status", "severity", "source", "identity", "owner", "overdue", "q", "group")
STATUS_CHOICES = [(s.value, s.label) for s in selectors.FINDING_STATUSES]


def _filters(request, names) -> dict[str, str]:
    return {k: request.GET.get(k, "").strip()[:100] for k in names}


def _partial_or_page(request, partial: str, page: str) -> str:
    return partial if request.headers.get("HX-Request") else page


def _requirement_or_404(ref: str) -> Requirement:
    try:
        return requirement_get(ref=ref)
    except Requirement.DoesNotExist:
        raise Http404("Not found") from None


# --- dashboard -----------------------------------------------------------------------------


@require_GET
def dashboard_view(request):
    require(request, VIEW)
    dashboard = selectors.posture_dashboard()
    for group in dashboard.clauses:
        for row in group.rows:
            row.trend_svg = charts.requirement_trend(row.trend)
    context = {
        "dashboard": dashboard,
        "evaluation": dashboard.evaluation,
        "posture_svg": charts.posture_chart(dashboard.history),
        "can_run": has_perm(request.user, "evaluation.run_evaluation"),
        "evaluation_running": selectors.running_evaluation(),
    }
    return render(request, "evaluation/dashboard.html", context)


@require_POST
def evaluate_view(request):
    """Queue an evaluation and return at once; the dashboard shows its progress until it ends."""
    require(request, "evaluation.run_evaluation")
    evaluation = evaluation_request(actor=request.user)
    if evaluation.state == Evaluation.State.RUNNING:
        messages.success(request, f"Evaluation #{evaluation.pk} started; its progress shows below.")
    elif evaluation.state == Evaluation.State.FAILED:
        messages.error(request, "The evaluation failed; its error is recorded in the list of evaluations.")
        return redirect("evaluation:evaluation_list")
    else:
        c = evaluation.counts
        messages.success(
            request,
            f"Evaluation #{evaluation.pk} finished: {c.get('failed', 0)} failed, {c.get('excepted', 0)} excepted, "
            f"{c.get('not_assessed', 0)} not assessed.",
        )
    return redirect("evaluation:dashboard")


# --- a sub-requirement -------------------------------------------------------------------


@require_GET
def requirement_view(request, ref: str):
    require(request, VIEW)
    requirement = _requirement_or_404(ref)
    user = request.user
    evaluation = selectors.latest_evaluation()
    status = selectors.requirement_status_in(evaluation=evaluation, requirement=requirement)
    rule_ids = selectors.requirement_rule_ids(requirement=requirement, status=status)
    filters = _filters(request, ("rule", "status"))
    if filters["rule"] not in rule_ids:
        filters["rule"] = ""
    page = None
    if evaluation is not None and rule_ids:
        findings = selectors.finding_list(user=user, evaluation=evaluation, rule_ids=rule_ids, **filters)
        page = paginate(request, findings, per_page=50, by_ids=True)
    context = {
        "requirement": requirement,
        "evaluation": evaluation,
        "status": status,
        "shown_status": selectors.display_status(status.status, status.rule_ids) if status else None,
        "rules": selectors.rule_rows(evaluation=evaluation, rule_ids=rule_ids),
        "page": page,
        "filters": filters,
        "statuses": STATUS_CHOICES,
        "controls": selectors.controls_for(user=user, requirement=requirement),
        "narrowed": not selectors.sees_every_source(user=user),
    }
    return render(
        request, _partial_or_page(request, "evaluation/_requirement_findings.html", "evaluation/requirement_detail.html"), context
    )


@require_GET
def requirement_status_view(request, ref: str):
    """The compact latest status of a requirement, loaded into the catalog's requirement page."""
    require(request, VIEW)
    requirement = _requirement_or_404(ref)
    evaluation = selectors.latest_evaluation()
    status = selectors.requirement_status_in(evaluation=evaluation, requirement=requirement)
    context = {
        "requirement": requirement,
        "evaluation": evaluation,
        "status": status,
        "shown_status": selectors.display_status(status.status, status.rule_ids) if status else None,
    }
    return render(request, "evaluation/_requirement_status.html", context)


# --- rules and findings --------------------------------------------------------------------


@require_GET
def rule_list_view(request):
    require(request, VIEW)
    evaluation = selectors.latest_evaluation()
    return render(request, "evaluation/rule_list.html", {"evaluation": evaluation, "rules": selectors.rule_rows(evaluation=evaluation)})


REQUEST_SUBJECTS = 50  # subjects a "request an exception for these" link names at most


def _request_query(findings, rule: str) -> tuple[str, int]:
    """(the exception form's query naming ``rule`` and the subjects of its unexcused failing
    findings in the list, how many failing there are). Subjects are named only when they are
    few enough to review on the form (REQUEST_SUBJECTS)."""
    failing = findings.filter(status="fail", exception_id__isnull=True)
    rows = list(failing.order_by().values_list("subject_type", "credential_id", "identity_id", "source_id")[: REQUEST_SUBJECTS + 1])
    query = QueryDict(mutable=True)
    query["rule"] = rule
    if 0 < len(rows) <= REQUEST_SUBJECTS:
        for kind, credential, identity, source in rows:
            key, value = {"credential": ("credential", credential), "identity": ("identity", identity)}.get(kind, ("source", source))
            if value is not None and str(value) not in query.getlist(key):
                query.appendlist(key, str(value))
    return query.urlencode(), len(rows)


def _group_links(request, groups) -> list[tuple]:
    """Each group with the link to the list filtered to it (the other filters kept, ungrouped)."""
    links = []
    for g in groups:
        query = request.GET.copy()
        for name in ("group", "page", "export"):
            query.pop(name, None)
        query[g.filter] = g.value
        links.append((g, "?" + query.urlencode()))
    return links


@require_GET
def finding_list_view(request):
    require(request, VIEW)
    user = request.user
    chosen = request.GET.get("evaluation", "").strip()
    if chosen.isdigit():
        try:
            evaluation = selectors.evaluation_get(pk=int(chosen))
        except Evaluation.DoesNotExist:
            raise Http404("Not found") from None
    else:
        evaluation, chosen = selectors.latest_evaluation(), ""
    filters = _filters(request, FINDING_FILTERS)
    findings = selectors.finding_list(user=user, evaluation=evaluation, **filters) if evaluation else None
    fmt = export_format(request)
    if fmt:
        rows = findings.iterator(chunk_size=2000) if findings is not None else iter(())
        return export_response(rows=rows, columns=FINDING_COLUMNS, fmt=fmt, name="findings")
    page = paginate(request, findings, per_page=50, by_ids=True) if evaluation else None
    today = selectors.today()
    for f in page or ():
        f.overdue = selectors.finding_is_overdue(f, on=today)
    context = {
        "evaluation": evaluation,
        "page": page,
        "request_for_rule": _request_query(findings, filters["rule"]) if findings is not None and filters["rule"] else None,
        "request_limit": REQUEST_SUBJECTS,
        "groups": _group_links(request, selectors.finding_groups(findings, by=filters["group"], on=today)) if findings is not None else [],
        "group_choices": selectors.GROUP_CHOICES,
        "no_owner": selectors.NO_OWNER,
        # Carried by the pager links with the filters.
        "filters": {"evaluation": chosen, **filters},
        "rule_ids": selectors.registered_rule_ids(),
        "statuses": STATUS_CHOICES,
        "severities": SEVERITIES,
        "sources": selectors.source_choices(user=user),
        "narrowed": not selectors.sees_every_source(user=user),
    }
    return render(request, _partial_or_page(request, "evaluation/_finding_rows.html", "evaluation/finding_list.html"), context)


@require_GET
def evaluation_progress_view(request, pk: int):
    """The self-refreshing progress of a running evaluation (htmx); once it has finished, the
    page is reloaded to show its results (or its error)."""
    require(request, VIEW)
    try:
        attempt = selectors.evaluation_get(pk=pk)
    except Evaluation.DoesNotExist:
        raise Http404("Not found") from None
    response = render(request, "evaluation/_evaluation_progress.html", {"attempt": attempt})
    if attempt.state != Evaluation.State.RUNNING and request.headers.get("HX-Request"):
        response["HX-Refresh"] = "true"
    return response


@require_GET
def evaluation_list_view(request):
    require(request, VIEW)
    page = paginate(request, selectors.evaluation_list(), per_page=25)
    for e in page:
        e.duration = (e.finished_at - e.started_at).total_seconds() if e.finished_at else None
    latest = selectors.latest_evaluation()
    context = {
        "page": page,
        "filters": {},
        "latest_id": latest.pk if latest else None,
        "can_run": has_perm(request.user, "evaluation.run_evaluation"),
        "evaluation_running": selectors.running_evaluation(),
    }
    return render(request, "evaluation/evaluation_list.html", context)


# --- policy ----------------------------------------------------------------------------------


@require_GET
def policy_view(request):
    require(request, "evaluation.view_policyversion")
    version, data = selectors.policy_in_force()
    context = {
        "version": version,
        "policy": selectors.policy_display(data),
        "history": selectors.policy_history(),
        "can_edit": has_perm(request.user, "evaluation.edit_policy"),
    }
    return render(request, "evaluation/policy.html", context)


@require_http_methods(["GET", "POST"])
def policy_edit_view(request):
    require(request, "evaluation.edit_policy")
    version, data = selectors.policy_in_force()
    form = PolicyForm(request.POST or None, initial=PolicyForm.initial_for(data))
    if request.method == "POST" and form.is_valid():
        try:
            new = policy_update(actor=request.user, data=form.policy_data(), comment=form.cleaned_data["comment"])
        except ValidationFailed as exc:
            form.add_service_error(str(exc))
        else:
            messages.success(request, f"Policy v{new.version} is in force; the next evaluation judges against it.")
            return redirect("evaluation:policy")
    return render(request, "evaluation/policy_form.html", {"form": form, "version": version})
