from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts.sharing import object_shares
from apps.accounts.sharing_views import share_page
from apps.audit.access import deny, require, require_object
from apps.audit.selectors import audit_events_for
from apps.connectors.registry import (
    credential_kind_choices,
    identity_kind_choices,
    source_kind_choices,
)
from apps.core.errors import ValidationFailed
from apps.core.export import export_format, export_response
from apps.core.ids import out_of_range
from apps.core.pagination import paginate
from apps.core.permissions import has_perm, objects_for
from apps.inventory import members, selectors
from apps.inventory.exports import CREDENTIAL_COLUMNS, IDENTITY_COLUMNS
from apps.inventory.forms import SourceForm
from apps.inventory.models import (
    CollectionRun,
    CollectionUnit,
    Credential,
    Identity,
    Source,
)
from apps.inventory.services.collection import (
    collection_enqueue_problem,
    collection_retry,
    collection_start,
)
from apps.inventory.services.sources import source_create, source_update


def _get_or_404(getter, pk: int):
    try:
        return getter(pk=pk)
    except (Source.DoesNotExist, CollectionRun.DoesNotExist, Credential.DoesNotExist, Identity.DoesNotExist):
        raise Http404("Not found") from None


def _filters(request, names) -> dict[str, str]:
    return {k: request.GET.get(k, "").strip()[:100] for k in names}


def _status_for(request, filters: dict[str, str]) -> int:
    """400 (with a message; the list is then empty) when the ``source`` filter is a number no
    source can have (0, beyond the database's integer range)."""
    if out_of_range(filters.get("source", "")):
        messages.error(request, "Source filter: not a source's id; nothing is listed.")
        return 400
    return 200


def _partial_or_page(request, partial: str, page: str) -> str:
    return partial if request.headers.get("HX-Request") else page


# --- sources -----------------------------------------------------------------------------


@require_GET
def source_list_view(request):
    user = request.user
    collectable = selectors.source_ids_with(user=user, perm="inventory.run_collection")
    context = {
        "page": paginate(request, selectors.source_list(user=user), per_page=50),
        "filters": {},
        "can_add": has_perm(user, "inventory.add_source"),
        "collectable": collectable,
        "editable": selectors.source_ids_with(user=user, perm="inventory.change_source"),
        "can_collect_all": Source.objects.filter(pk__in=collectable, enabled=True).exists() if collectable else False,
    }
    return render(request, "inventory/source_list.html", context)


@require_http_methods(["GET", "POST"])
def source_create_view(request):
    require(request, "inventory.add_source")
    kinds = source_kind_choices()
    kind = request.POST.get("kind") or request.GET.get("kind") or ""
    if kind not in dict(kinds):
        kind = kinds[0][0]  # the first registered kind is the form's default
    form = SourceForm(request.POST or None, kind=kind)
    if request.method == "POST" and form.is_valid():
        try:
            source = source_create(actor=request.user, kind=kind, **form.cleaned_data)
        except ValidationFailed as exc:
            form.add_service_error(str(exc))
        else:
            messages.success(request, f"Source {source.name} registered.")
            return redirect("inventory:source_detail", pk=source.pk)
    return render(request, "inventory/source_form.html", {"form": form, "source": None, "kind": kind, "kinds": kinds})


@require_GET
def source_detail_view(request, pk: int):
    source = _get_or_404(selectors.source_get, pk)
    require_object(request, source, "inventory.view_source")
    user = request.user
    runs = selectors.source_runs(source=source)
    context = {
        "source": source,
        "runs": runs,
        # A run of this source still going: "Collect now" waits for it (its page shows the progress).
        "collecting": next((r for r in runs if r.finished_at is None), None),
        "snapshots": selectors.source_latest_snapshots(source=source),
        "counts": selectors.source_inventory_counts(source=source),
        "organization": members.organization_accounts(source=source, user=user),
        "subscription": members.subscription_vaults(source=source, user=user),
        "history": audit_events_for(source),
        "can_edit": has_perm(user, "inventory.change_source", source),
        "can_collect": has_perm(user, "inventory.run_collection", source),
        "can_share": has_perm(user, "inventory.share_source", source),
        "shares": object_shares(source) if has_perm(user, "inventory.share_source", source) else [],
    }
    return render(request, "inventory/source_detail.html", context)


@require_http_methods(["GET", "POST"])
def source_share_view(request, pk: int):
    source = _get_or_404(selectors.source_get, pk)
    detail = reverse("inventory:source_detail", args=[source.pk])
    return share_page(
        request,
        obj=source,
        view_perm="inventory.view_source",
        back_url=detail,
        crumbs=[("Sources", reverse("inventory:source_list")), (source.name, detail)],
    )


@require_http_methods(["GET", "POST"])
def source_edit_view(request, pk: int):
    source = _get_or_404(selectors.source_get, pk)
    require_object(request, source, "inventory.view_source", "inventory.change_source")
    form = SourceForm(request.POST or None, kind=source.kind, with_enabled=True, initial=SourceForm.initial_for(source))
    if request.method == "POST" and form.is_valid():
        try:
            source_update(actor=request.user, source=source, **form.cleaned_data)
        except ValidationFailed as exc:
            form.add_service_error(str(exc))
        else:
            messages.success(request, f"Source {form.cleaned_data['name']} saved.")
            return redirect("inventory:source_detail", pk=source.pk)
    return render(
        request, "inventory/source_form.html", {"form": form, "source": source, "kind": source.kind, "kinds": source_kind_choices()}
    )


@require_POST
def source_collect_view(request, pk: int):
    source = _get_or_404(selectors.source_get, pk)
    require_object(request, source, "inventory.view_source", "inventory.run_collection")
    try:
        run = collection_start(actor=request.user, sources=[source])
    except ValidationFailed as exc:
        messages.error(request, str(exc))
        return redirect("inventory:source_detail", pk=source.pk)
    _started(request, run, f"Collection run #{run.pk} of {source.name} started.")
    return redirect("inventory:run_detail", pk=run.pk)


def _started(request, run: CollectionRun, message: str) -> None:
    """Say the run started, or that it could not be queued (it is then recorded as failed)."""
    problem = collection_enqueue_problem(run)
    if problem:
        messages.error(request, problem)
    else:
        messages.success(request, message)


@require_POST
def source_collect_all_view(request):
    """Collect every enabled source the user may collect (all of them for a GRC lead)."""
    allowed = objects_for(request.user, "inventory.run_collection", Source.objects.all())
    if not has_perm(request.user, "inventory.run_collection") and not allowed.exists():
        deny(request, "inventory.run_collection")
    sources = list(allowed.filter(enabled=True))
    try:
        run = collection_start(actor=request.user, sources=sources)
    except ValidationFailed as exc:
        messages.error(request, str(exc))
        return redirect("inventory:source_list")
    _started(request, run, f"Collection run #{run.pk} of {len(sources)} source{'s' if len(sources) != 1 else ''} started.")
    return redirect("inventory:run_detail", pk=run.pk)


# --- collection runs ---------------------------------------------------------------------


@require_GET
def run_list_view(request):
    page = paginate(request, selectors.run_list(user=request.user), per_page=25)
    return render(request, "inventory/run_list.html", {"page": page, "filters": {}})


def _run_context(request, run: CollectionRun) -> dict:
    """The run and the units ``request.user`` may see; 404 (recorded) when that is none."""
    units = selectors.run_units(run=run, user=request.user)
    if not units:
        deny(request, "inventory.view_source", run, hide=True)
    failed_sources = {u.source for u in units if u.status == CollectionUnit.Status.FAILED}
    can_retry = (
        run.is_finished and bool(failed_sources) and all(has_perm(request.user, "inventory.run_collection", s) for s in failed_sources)
    )
    return {"run": run, "units": units, "progress": selectors.run_progress(units), "can_retry": can_retry}


@require_GET
def run_detail_view(request, pk: int):
    run = _get_or_404(selectors.run_get, pk)
    return render(request, "inventory/run_detail.html", _run_context(request, run))


@require_GET
def run_units_view(request, pk: int):
    """The self-refreshing part of the run page (status, progress, units) for htmx polling."""
    run = _get_or_404(selectors.run_get, pk)
    return render(request, "inventory/_run_units.html", _run_context(request, run))


@require_POST
def run_retry_view(request, pk: int):
    run = _get_or_404(selectors.run_get, pk)
    units = selectors.run_units(run=run, user=request.user)
    if not units:
        deny(request, "inventory.view_source", run, hide=True)
    # The sources to be collected again; when nothing failed, any of the run's (the
    # service then says there is nothing to retry, to those allowed to ask).
    sources = {u.source for u in units if u.status == CollectionUnit.Status.FAILED} or {u.source for u in units}
    for source in sorted(sources, key=lambda s: s.pk):
        require(request, "inventory.run_collection", source)
    try:
        retry = collection_retry(actor=request.user, run=run)
    except ValidationFailed as exc:
        messages.error(request, str(exc))
        return redirect("inventory:run_detail", pk=run.pk)
    _started(request, retry, f"Retry run #{retry.pk} started for the failed units of run #{run.pk}.")
    return redirect("inventory:run_detail", pk=retry.pk)


# --- credentials -------------------------------------------------------------------------

CREDENTIAL_FILTERS = ("credential_type", "source", "presence", "enabled", "owner", "q")


@require_GET
def credential_list_view(request):
    filters = _filters(request, CREDENTIAL_FILTERS)
    status = _status_for(request, filters)
    fmt = export_format(request)
    if fmt:
        rows = selectors.credential_list(user=request.user, **filters).iterator(chunk_size=2000)
        return export_response(rows=rows, columns=CREDENTIAL_COLUMNS, fmt=fmt, name="credentials")
    page = selectors.credential_page(user=request.user, number=request.GET.get("page"), **filters)
    selectors.with_ages(page)
    context = {
        "page": page,
        "filters": filters,
        "types": credential_kind_choices(),
        "sources": selectors.visible_sources(user=request.user).only("id", "name").order_by("name"),
    }
    return render(
        request, _partial_or_page(request, "inventory/_credential_rows.html", "inventory/credential_list.html"), context, status=status
    )


# --- identities --------------------------------------------------------------------------

IDENTITY_FILTERS = ("kind", "source", "privileged", "mfa", "owner", "presence", "q")


@require_GET
def identity_list_view(request):
    filters = _filters(request, IDENTITY_FILTERS)
    status = _status_for(request, filters)
    fmt = export_format(request)
    if fmt:
        rows = selectors.identity_list(user=request.user, **filters).iterator(chunk_size=2000)
        return export_response(rows=rows, columns=IDENTITY_COLUMNS, fmt=fmt, name="identities")
    page = selectors.identity_page(user=request.user, number=request.GET.get("page"), **filters)
    context = {
        "page": page,
        "filters": filters,
        "kinds": identity_kind_choices(),
        "sources": selectors.visible_sources(user=request.user).only("id", "name").order_by("name"),
    }
    return render(
        request, _partial_or_page(request, "inventory/_identity_rows.html", "inventory/identity_list.html"), context, status=status
    )


@require_GET
def identity_detail_view(request, pk: int):
    identity = _get_or_404(selectors.identity_get, pk)
    require_object(request, identity.source, "inventory.view_source")
    data = identity.data if isinstance(identity.data, dict) else {}
    devices = data.get("mfa_devices") if isinstance(data.get("mfa_devices"), list) else []
    context = {
        "identity": identity,
        "groups": [selectors.display_value(g) for g in data.get("groups") or [] if g is not None],
        "policies": [selectors.display_value(p) for p in data.get("policies") or [] if p is not None],
        "mfa_devices": [selectors.key_values(d) if isinstance(d, dict) else [("", selectors.display_value(d))] for d in devices],
        "attributes": selectors.key_values(data.get("attributes")),
        "tags": selectors.key_values(identity.tags),
        "credentials": selectors.with_ages(selectors.identity_credentials(identity=identity)),
        "versions": selectors.identity_versions(identity=identity),
    }
    return render(request, "inventory/identity_detail.html", context)
