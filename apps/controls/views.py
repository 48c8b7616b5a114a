from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from apps.accounts.models import User
from apps.accounts.sharing_views import share_page
from apps.audit.access import require, require_object
from apps.audit.selectors import audit_events_for
from apps.controls import services
from apps.controls.forms import ControlForm, EvidenceForm
from apps.controls.models import Control, ControlEvidence
from apps.controls.selectors import control_get, control_list, control_shares
from apps.core.errors import ValidationFailed
from apps.core.pagination import paginate
from apps.core.permissions import has_perm


def _control_or_404(pk: int) -> Control:
    try:
        return control_get(pk=pk)
    except Control.DoesNotExist:
        from django.http import Http404

        raise Http404("Not found") from None


@require_GET
def control_list_view(request):
    filters = {k: request.GET.get(k, "").strip()[:100] for k in ("status", "requirement", "owner", "q")}
    page = paginate(request, control_list(user=request.user, **filters), per_page=25)
    context = {
        "page": page,
        "filters": filters,
        "statuses": Control.Status.choices,
        "owners": User.objects.filter(owned_controls__isnull=False).distinct().order_by("username"),
    }
    template = "controls/_control_rows.html" if request.headers.get("HX-Request") else "controls/control_list.html"
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
def control_create_view(request):
    require(request, "controls.add_control")
    form = ControlForm(request.POST or None, initial={"owner": request.user})
    if request.method == "POST" and form.is_valid():
        try:
            control = services.control_create(actor=request.user, **form.cleaned_data)
        except ValidationFailed as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Control {control.ref} created.")
            return redirect("controls:detail", pk=control.pk)
    return render(request, "controls/control_form.html", {"form": form, "control": None})


@require_GET
def control_detail_view(request, pk: int):
    control = _control_or_404(pk)
    require_object(request, control, "controls.view_control")
    user = request.user
    context = {
        "control": control,
        "history": audit_events_for(control),
        "can_edit": has_perm(user, "controls.change_control", control),
        "can_attach": has_perm(user, "controls.attach_evidence", control),
        "can_share": has_perm(user, "controls.share_control", control),
        "shares": control_shares(control=control) if has_perm(user, "controls.share_control", control) else [],
    }
    return render(request, "controls/control_detail.html", context)


@require_http_methods(["GET", "POST"])
def control_edit_view(request, pk: int):
    control = _control_or_404(pk)
    require_object(request, control, "controls.view_control", "controls.change_control")
    form = ControlForm(request.POST or None, initial=ControlForm.initial_for(control))
    if request.method == "POST" and form.is_valid():
        try:
            services.control_update(actor=request.user, control=control, **form.cleaned_data)
        except ValidationFailed as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Control {control.ref} saved.")
            return redirect("controls:detail", pk=control.pk)
    return render(request, "controls/control_form.html", {"form": form, "control": control})


@require_http_methods(["GET", "POST"])
def evidence_upload_view(request, pk: int):
    control = _control_or_404(pk)
    require_object(request, control, "controls.view_control", "controls.attach_evidence")
    form = EvidenceForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > request_max_bytes():
            form.add_error("file", f"The file is {upload.size:,} bytes; the limit is {request_max_bytes():,} bytes.")
        else:
            try:
                evidence = services.control_evidence_attach(
                    actor=request.user,
                    control=control,
                    name=upload.name,
                    content=upload.read(),
                    effective_date=form.cleaned_data["effective_date"],
                    description=form.cleaned_data["description"],
                )
            except ValidationFailed as exc:
                form.add_error("file", str(exc))
            else:
                messages.success(request, f"Attached {evidence.original_name} (SHA-256 {evidence.sha256[:16]}…).")
                return redirect("controls:detail", pk=control.pk)
    return render(request, "controls/evidence_form.html", {"form": form, "control": control, "max_bytes": request_max_bytes()})


def request_max_bytes() -> int:
    from django.conf import settings

    return settings.KEYTRAIL_EVIDENCE_MAX_BYTES


@require_GET
def evidence_download_view(request, pk: int, evidence_id: int):
    control = _control_or_404(pk)
    require_object(request, control, "controls.view_control")
    evidence = get_object_or_404(ControlEvidence, pk=evidence_id, control=control)
    try:
        content = services.control_evidence_open(actor=request.user, evidence=evidence)
    except ValidationFailed as exc:
        return HttpResponse(str(exc), status=409, content_type="text/plain; charset=utf-8")
    response = HttpResponse(content, content_type=evidence.content_type)
    # Always an attachment, never rendered inline: an uploaded HTML/SVG can't run in our origin.
    from django.utils.http import content_disposition_header

    response["Content-Disposition"] = content_disposition_header(True, evidence.original_name)
    response["X-Content-SHA256"] = evidence.sha256
    return response


@require_http_methods(["GET", "POST"])
def control_share_view(request, pk: int):
    control = _control_or_404(pk)
    detail = reverse("controls:detail", args=[control.pk])
    return share_page(
        request,
        obj=control,
        view_perm="controls.view_control",
        back_url=detail,
        crumbs=[("Controls", reverse("controls:list")), (control.ref, detail)],
        protected_user_ids={control.owner_id},
    )
