"""Access-review pages.

Seeing a whole campaign takes ``view_campaign`` (GRC lead by role; an auditor per object,
signed-off campaigns only). A reviewer reaches a campaign through ``review_campaign``
(granted per campaign by the service when items are assigned) and sees only their items.
Anyone else gets 404. Managing (create, start, reassign, remind, sign off, cancel) takes
``manage_campaign``. Each action calls one service, which checks again; a refusal for the
state or input changes nothing and is shown as a message.
"""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts.sharing_views import share_page
from apps.audit import events
from apps.audit.access import deny, require
from apps.audit.selectors import audit_events_for
from apps.core.errors import IllegalTransition, PermissionRefused, ValidationFailed
from apps.core.export import export_format, export_response
from apps.core.pagination import paginate
from apps.core.permissions import has_perm
from apps.core.redirects import safe_next
from apps.reviews import selectors, services
from apps.reviews.exports import ITEM_COLUMNS, REMEDIATION_COLUMNS
from apps.reviews.forms import CampaignForm, CommentForm, DecideForm, ReassignForm, RemindForm, TemplateForm
from apps.reviews.models import Campaign, CampaignTemplate, ReviewItem
from apps.reviews.population import is_own_identity, population_queryset

VIEW, MANAGE, REVIEW = selectors.VIEW, selectors.MANAGE, selectors.REVIEW
PER_PAGE = 100
# Under the reviewer's name: how they came to review the item (nothing when they own it).
ASSIGNMENT_NOTES = {"credential_owner": "", "identity_owner": "", "self_review": "self-review refused: fallback"}
REMEDIATION_PER_PAGE = 25  # a campaign of 10,000 items may oblige thousands: shown a page at a time, open first
PAGE_SIZES = (100, 500, 1000)  # 1,000: one bulk decision over a whole page


def _campaign_for(request, pk: int) -> tuple[Campaign, bool, bool]:
    """(campaign, sees all, reviews in it); 404 (recorded) when neither."""
    campaign = get_object_or_404(Campaign.objects.select_related("fallback_reviewer", "created_by", "signed_off_by"), pk=pk)
    sees_all = selectors.can_view_campaign(user=request.user, campaign=campaign)
    reviews = selectors.can_review(user=request.user, campaign=campaign)
    if not (sees_all or reviews):
        deny(request, VIEW, campaign, hide=True)
    return campaign, sees_all, reviews


def _manage(request, pk: int) -> Campaign:
    campaign, sees_all, _ = _campaign_for(request, pk)
    require(request, MANAGE)
    return campaign


def _outcome(request, campaign, run, done: str):
    """Run one service; refusals for state or input, and a reviewer's batch refused by the
    service (an item not theirs or about their own identity: recorded as access.denied), are
    shown as a message on the campaign page."""
    try:
        result = run()
    except PermissionRefused as exc:
        events.access_denied(
            actor=request.user, permission=str(exc), target=("reviews.campaign", campaign.pk, ""), path=request.get_full_path()
        )
        messages.error(request, f"Refused: {exc}")
    except (IllegalTransition, ValidationFailed) as exc:
        messages.error(request, f"Nothing was changed: {exc}")
    else:
        messages.success(request, done.format(result=result))
    return redirect(safe_next(request, reverse("reviews:detail", args=[campaign.pk])))


def _safe_next(request, campaign) -> str:
    """The page to go back to: the posted ``next`` when it is on this site, else the campaign."""
    wanted = request.POST.get("next", "")
    if wanted and url_has_allowed_host_and_scheme(wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return wanted
    return reverse("reviews:detail", args=[campaign.pk])


@require_GET
def campaign_list_view(request):
    user = request.user
    return render(
        request,
        "reviews/campaign_list.html",
        {
            "campaigns": selectors.campaign_list(user=user),
            "reminders": selectors.reminders_for(user=user),
            "can_manage": has_perm(user, MANAGE),
        },
    )


@require_http_methods(["GET", "POST"])
def campaign_create_view(request):
    require(request, MANAGE)
    form = CampaignForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            campaign = services.campaign_create(actor=request.user, due_date=form.cleaned_data["due_date"], **form.settings_kwargs())
        except ValidationFailed as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                f"Draft campaign created: {population_queryset(campaign.scope).count()} credentials in scope now. "
                "Start it to freeze the population.",
            )
            return redirect("reviews:detail", pk=campaign.pk)
    return render(request, "reviews/campaign_form.html", {"form": form, "title": "New access-review campaign"})


@require_http_methods(["GET", "POST"])
def template_list_view(request):
    require(request, MANAGE)
    form = TemplateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            template = services.template_save(
                actor=request.user,
                recurrence=form.cleaned_data["recurrence"],
                duration_days=form.cleaned_data["duration_days"],
                **form.settings_kwargs(),
            )
        except ValidationFailed as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Recurring campaign saved: {template}.")
            return redirect("reviews:templates")
    templates = CampaignTemplate.objects.select_related("fallback_reviewer", "periodic_task").prefetch_related("campaigns").order_by("name")
    return render(request, "reviews/templates.html", {"form": form, "templates": templates})


@require_GET
def campaign_detail_view(request, pk: int):
    campaign, sees_all, reviews = _campaign_for(request, pk)
    user = request.user
    filters = {k: request.GET.get(k, "").strip()[:100] for k in ("decision", "q", "reviewer", "per_page")}
    per_page = int(filters["per_page"]) if filters["per_page"] in {str(n) for n in PAGE_SIZES} else PER_PAGE
    only_mine = not sees_all or filters["reviewer"] == "me"
    items = selectors.campaign_items(campaign=campaign, reviewer=user if only_mine else None, decision=filters["decision"], q=filters["q"])
    fmt = export_format(request)
    if fmt and request.GET.get("list") == "remediation":
        if not sees_all:  # the remediation list is shown only to those who see the whole campaign
            deny(request, VIEW, campaign)
        rows = selectors.remediation_list(campaign=campaign).iterator(chunk_size=2000)
        return export_response(rows=rows, columns=REMEDIATION_COLUMNS, fmt=fmt, name=f"campaign-{campaign.pk}-remediation")
    if fmt:
        return export_response(rows=items.iterator(chunk_size=2000), columns=ITEM_COLUMNS, fmt=fmt, name=f"campaign-{campaign.pk}-items")
    page = paginate(request, items, per_page=per_page, by_ids=True)
    for item in page:  # the form offers no checkbox for an item about one's own identity (the service refuses it anyway)
        item.is_own = is_own_identity(user, item.facts)
        item.selectable = not item.decision and item.reviewer_id == user.pk and not item.is_own
        item.assignment_note = ASSIGNMENT_NOTES.get(item.assigned_by_rule, item.assigned_by_rule)
    can_manage = has_perm(user, MANAGE)
    reassign_users = ReassignForm().fields["to_reviewer"].queryset if campaign.state == Campaign.State.ACTIVE else []
    # The GRC lead's progress table offers every active user on each reviewer's row: rendered once.
    manages_reviewers = sees_all and can_manage and campaign.state == Campaign.State.ACTIVE  # remind, escalate, reassign per reviewer
    reassign_options = render_to_string("reviews/_user_options.html", {"users": reassign_users}) if manages_reviewers else ""
    progress, decision_counts = selectors.campaign_progress(campaign=campaign) if sees_all else (None, None)
    remediation_counts = selectors.remediation_counts(campaign=campaign) if sees_all else {}
    remediation = (
        paginate(
            request,
            selectors.remediation_list(campaign=campaign),
            per_page=REMEDIATION_PER_PAGE,
            param="remediation_page",
            by_ids=True,
            count=sum(remediation_counts.values()),
        )
        if any(remediation_counts.values())
        else None
    )
    context = {
        "campaign": campaign,
        "page": page,
        "filters": filters,
        "sees_all": sees_all,
        "only_mine": only_mine,
        "can_manage": can_manage and campaign.state in (Campaign.State.DRAFT, Campaign.State.STARTING, Campaign.State.ACTIVE),
        "can_decide": reviews and campaign.state == Campaign.State.ACTIVE,
        "decisions": ReviewItem.Decision.choices,
        "page_sizes": PAGE_SIZES,
        "decision_counts": decision_counts,
        "progress": progress,
        "remediation": remediation,
        "remediation_counts": remediation_counts,
        # The remediation pager keeps the items' filters and page.
        "remediation_carry": {**filters, "page": request.GET.get("page", "")},
        "history": audit_events_for(campaign, limit=30) if sees_all else None,
        "can_share": campaign.state == Campaign.State.SIGNED_OFF and has_perm(user, "reviews.share_campaign"),
        "reassign_users": reassign_users,
        "reassign_options": reassign_options,
        "manages_reviewers": manages_reviewers,
        "in_scope_now": population_queryset(campaign.scope).count() if campaign.state == Campaign.State.DRAFT else None,
    }
    return render(request, "reviews/campaign_detail.html", context)


@require_POST
def campaign_start_view(request, pk: int):
    """Queue the start and return at once; the campaign's page follows the worker."""
    campaign = _manage(request, pk)
    return _outcome(
        request,
        campaign,
        lambda: services.campaign_start_request(actor=request.user, campaign=campaign),
        "Start requested: a worker freezes the population; this page updates itself once it has.",
    )


@require_GET
def campaign_state_view(request, pk: int):
    """The self-refreshing "starting" block (htmx); once the campaign is no longer starting, the
    page is reloaded to show it as it is now (active, or back to draft with the reason)."""
    campaign, _, _ = _campaign_for(request, pk)
    response = render(request, "reviews/_starting.html", {"campaign": campaign})
    if campaign.state != Campaign.State.STARTING and request.headers.get("HX-Request"):
        response["HX-Refresh"] = "true"
    return response


def _with_comment(request, pk: int, service, done: str):
    campaign = _manage(request, pk)
    form = CommentForm(request.POST)
    form.is_valid()  # the comment is optional to the form; the service says when it is required
    return _outcome(
        request, campaign, lambda: service(actor=request.user, campaign=campaign, comment=form.cleaned_data.get("comment", "")), done
    )


@require_POST
def campaign_sign_off_view(request, pk: int):
    return _with_comment(request, pk, services.campaign_sign_off, "Signed off: the decisions are locked.")


@require_POST
def campaign_cancel_view(request, pk: int):
    return _with_comment(request, pk, services.campaign_cancel, "Cancelled.")


@require_POST
def items_decide_view(request, pk: int):
    campaign, _, reviews = _campaign_for(request, pk)
    if not reviews:
        deny(request, REVIEW, campaign)
    form = DecideForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Nothing was decided: " + "; ".join(e for errors in form.errors.values() for e in errors))
        return redirect(safe_next(request, reverse("reviews:detail", args=[campaign.pk])))
    d = form.cleaned_data
    if d["decision"] == ReviewItem.Decision.KEEP and not d["confirm_keep"]:
        failing, per_rule = selectors.items_failing_rules(campaign=campaign, item_ids=d["items"])
        if failing:
            # Keeping access that fails rules is asked twice: the page lists what would be accepted.
            context = {
                "campaign": campaign,
                "items": d["items"],
                "count": len(set(d["items"])),
                "failing": failing,
                "per_rule": per_rule,
                "justification": d["justification"],
                "next": _safe_next(request, campaign),
            }
            return render(request, "reviews/confirm_keep.html", context)
    return _outcome(
        request,
        campaign,
        lambda: services.items_decide(
            actor=request.user, campaign=campaign, item_ids=d["items"], decision=d["decision"], justification=d["justification"]
        ),
        "{result} item(s) decided: " + d["decision"] + ".",
    )


@require_POST
def items_delegate_view(request, pk: int):
    campaign, _, reviews = _campaign_for(request, pk)
    if not reviews:
        deny(request, REVIEW, campaign)
    form = ReassignForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Nothing was delegated: choose items, a person and say why.")
        return redirect("reviews:detail", pk=campaign.pk)
    d = form.cleaned_data
    return _outcome(
        request,
        campaign,
        lambda: services.items_delegate(
            actor=request.user, campaign=campaign, item_ids=d["items"], to_reviewer=d["to_reviewer"], note=d["note"]
        ),
        "{result} item(s) delegated to " + str(d["to_reviewer"]) + ".",
    )


@require_POST
def items_reassign_view(request, pk: int):
    campaign = _manage(request, pk)
    form = ReassignForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Nothing was reassigned: choose a person and say why.")
        return redirect("reviews:detail", pk=campaign.pk)
    d = form.cleaned_data
    return _outcome(
        request,
        campaign,
        lambda: services.items_reassign(
            actor=request.user,
            campaign=campaign,
            to_reviewer=d["to_reviewer"],
            note=d["note"],
            item_ids=d["items"] or None,
            from_reviewer=d["from_reviewer"],
        ),
        "{result} item(s) reassigned to " + str(d["to_reviewer"]) + ".",
    )


@require_POST
def campaign_remind_view(request, pk: int):
    campaign = _manage(request, pk)
    form = RemindForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Nothing was sent: choose a reviewer.")
        return redirect("reviews:detail", pk=campaign.pk)
    d = form.cleaned_data
    return _outcome(
        request,
        campaign,
        lambda: services.campaign_remind(actor=request.user, campaign=campaign, reviewer=d["reviewer"], escalate=d["escalate"]),
        ("Escalated: " if d["escalate"] else "Reminder sent to ") + str(d["reviewer"]) + ".",
    )


@require_http_methods(["GET", "POST"])
def campaign_share_view(request, pk: int):
    campaign, _, _ = _campaign_for(request, pk)
    if campaign.state != Campaign.State.SIGNED_OFF and has_perm(request.user, "reviews.share_campaign"):
        messages.error(request, "Only a signed-off campaign is shared (its decisions are final then).")
        return redirect("reviews:detail", pk=campaign.pk)
    return share_page(
        request,
        obj=campaign,
        view_perm=VIEW,
        back_url=reverse("reviews:detail", args=[campaign.pk]),
        crumbs=[("Access reviews", reverse("reviews:list")), (campaign.name, reverse("reviews:detail", args=[campaign.pk]))],
    )
