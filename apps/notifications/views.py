"""The GRC lead's webhook pages: register an endpoint (its secret shown once), see each
endpoint's delivery log, change it, rotate its secret. Views validate, call one service, respond."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from apps.audit.access import require
from apps.core.errors import IllegalTransition, ValidationFailed
from apps.core.pagination import paginate
from apps.core.permissions import has_perm
from apps.notifications import selectors, services
from apps.notifications.forms import EndpointEditForm, EndpointForm
from apps.notifications.models import WebhookDelivery, WebhookEndpoint
from apps.notifications.notices import EVENTS

VIEW = "notifications.view_webhookendpoint"
MANAGE = services.MANAGE


def _no_store(response):
    response["Cache-Control"] = "no-store"  # the page holds a signing secret: keep it out of every cache
    return response


@require_http_methods(["GET", "POST"])
def endpoint_list_view(request):
    require(request, VIEW)
    form = EndpointForm(request.POST or None)
    issued = None
    if request.method == "POST":
        require(request, MANAGE)
        if form.is_valid():
            try:
                issued = services.endpoint_create(actor=request.user, **form.cleaned_data)
            except ValidationFailed as exc:
                form.add_error(None, str(exc))
            else:
                form = EndpointForm()
    context = {"form": form, "issued": issued, "endpoints": selectors.endpoint_list(), "can_manage": has_perm(request.user, MANAGE)}
    response = render(request, "notifications/endpoint_list.html", context)
    return _no_store(response) if issued else response


def _endpoint(request, pk: int) -> WebhookEndpoint:
    require(request, VIEW, hide=True)
    endpoint = WebhookEndpoint.objects.filter(pk=pk).first()
    if endpoint is None:
        raise Http404("Not found")
    return endpoint


def _detail(request, endpoint: WebhookEndpoint, *, form=None, issued=None):
    filters = {k: request.GET.get(k, "").strip()[:64] for k in ("state", "event")}
    page = paginate(request, selectors.delivery_list(endpoint=endpoint, **filters), per_page=50)
    form = form or EndpointEditForm(
        initial={"name": endpoint.name, "url": endpoint.url, "events": endpoint.events, "active": endpoint.active}
    )
    context = {
        "endpoint": endpoint,
        "page": page,
        "filters": filters,
        "states": WebhookDelivery.State.choices,
        "events": EVENTS,
        "form": form,
        "issued": issued,
        "can_manage": has_perm(request.user, MANAGE),
    }
    response = render(request, "notifications/endpoint_detail.html", context)
    return _no_store(response) if issued else response


@require_http_methods(["GET"])
def endpoint_detail_view(request, pk: int):
    return _detail(request, _endpoint(request, pk))


@require_POST
def endpoint_edit_view(request, pk: int):
    endpoint = _endpoint(request, pk)
    require(request, MANAGE)
    form = EndpointEditForm(request.POST)
    if form.is_valid():
        try:
            services.endpoint_update(actor=request.user, endpoint=endpoint, **form.cleaned_data)
        except ValidationFailed as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Endpoint “{endpoint.name}” saved.")
            return redirect("notifications:endpoint_detail", pk=endpoint.pk)
    return _detail(request, endpoint, form=form)


@require_POST
def endpoint_rotate_view(request, pk: int):
    endpoint = _endpoint(request, pk)
    require(request, MANAGE)
    try:
        issued = services.endpoint_rotate_secret(actor=request.user, endpoint=endpoint)
    except IllegalTransition as exc:
        messages.error(request, f"Nothing was changed: {exc}")
        return redirect("notifications:endpoint_detail", pk=endpoint.pk)
    return _detail(request, issued.endpoint, issued=issued)
