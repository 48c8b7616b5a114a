"""Evidence pages: engagements (list, create, detail with its packs, share), a pack (progress,
download, verify) and verifying an uploaded pack.

Viewing an engagement takes ``evidence.view_engagement`` — held by the GRC lead role, or per
object by an auditor it is shared with — and answers 404 otherwise, for the engagement and
every one of its packs (a pack is looked up within its engagement, so guessing another
engagement's pack number is a 404 too). Building takes ``evidence.build_pack`` (403 when the
engagement is visible). Each view validates, calls one service and responds.
"""

import datetime as dt

from django.conf import settings
from django.contrib import messages
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts.sharing_views import share_page
from apps.audit.access import require, require_object
from apps.audit.selectors import audit_events_for
from apps.core.errors import RateLimited, ValidationFailed
from apps.core.permissions import has_perm
from apps.evidence import selectors, services, signing
from apps.evidence.forms import EngagementForm, PackBuildForm, VerifyUploadForm
from apps.evidence.models import Engagement, Pack

VIEW, ADD, BUILD = services.VIEW, services.ADD, services.BUILD


def _engagement_or_404(request, pk: int) -> Engagement:
    try:
        engagement = selectors.engagement_get(pk=pk)
    except Engagement.DoesNotExist:
        raise Http404("Not found") from None
    require_object(request, engagement, VIEW)
    return engagement


def _pack_or_404(request, pk: int, pack_pk: int) -> Pack:
    engagement = _engagement_or_404(request, pk)
    try:
        return selectors.pack_get(engagement=engagement, pk=pack_pk)
    except Pack.DoesNotExist:
        raise Http404("Not found") from None


@require_GET
def engagement_list_view(request):
    return render(
        request,
        "evidence/engagement_list.html",
        {"engagements": selectors.engagement_list(user=request.user), "can_add": has_perm(request.user, ADD)},
    )


@require_http_methods(["GET", "POST"])
def engagement_create_view(request):
    require(request, ADD)
    form = EngagementForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            engagement = services.engagement_create(actor=request.user, **form.cleaned_data)
        except ValidationFailed as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Engagement “{engagement.name}” created. Share it with its auditors, then build a pack.")
            return redirect("evidence:detail", pk=engagement.pk)
    return render(request, "evidence/engagement_form.html", {"form": form})


def _detail(request, engagement: Engagement, build_form=None):
    return render(
        request,
        "evidence/engagement_detail.html",
        {
            "engagement": engagement,
            "scope": selectors.engagement_scope(engagement),
            "packs": selectors.engagement_packs(engagement=engagement),
            "building": selectors.engagement_packs(engagement=engagement)
            .filter(state__in=[Pack.State.QUEUED, Pack.State.BUILDING])
            .first(),
            "can_build": has_perm(request.user, BUILD, engagement),
            "can_share": has_perm(request.user, "evidence.share_engagement", engagement),
            "build_form": build_form or PackBuildForm(),
            "verify_form": VerifyUploadForm(),
            "history": audit_events_for(engagement),
        },
    )


@require_GET
def engagement_detail_view(request, pk: int):
    return _detail(request, _engagement_or_404(request, pk))


@require_http_methods(["GET", "POST"])
def engagement_share_view(request, pk: int):
    engagement = _engagement_or_404(request, pk)
    detail = reverse("evidence:detail", args=[engagement.pk])
    return share_page(
        request,
        obj=engagement,
        view_perm=VIEW,
        back_url=detail,
        crumbs=[("Evidence packs", reverse("evidence:list")), (engagement.name, detail)],
    )


@require_POST
def pack_build_view(request, pk: int):
    engagement = _engagement_or_404(request, pk)
    require(request, BUILD, engagement)
    form = PackBuildForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        as_of = data["as_of"]
        if as_of is not None and timezone.is_naive(as_of):
            as_of = timezone.make_aware(as_of, dt.UTC)
        try:
            pack = services.pack_request(
                actor=request.user, engagement=engagement, as_of=as_of, sample_size=data["sample_size"], sample_seed=data["sample_seed"]
            )
        except ValidationFailed as exc:
            form.add_error(None, str(exc))
        else:
            pack.refresh_from_db()  # say what is true now, not what was true when it was queued
            if pack.state == Pack.State.SUCCEEDED:
                messages.success(request, f"Pack {pack.pack_id} built.")
            elif pack.state == Pack.State.FAILED:
                messages.error(request, f"Pack {pack.pack_id} failed: its error is below.")
            else:  # true whatever happens next: the block below says where the build stands
                messages.info(request, f"Pack {pack.pack_id} requested; its progress shows below and updates itself.")
            return redirect("evidence:pack", pk=engagement.pk, pack_pk=pack.pk)
    messages.error(request, "Nothing was built: correct the form below.")
    return _detail(request, engagement, build_form=form)


def _pack_context(request, pack: Pack) -> dict:
    return {
        "pack": pack,
        "engagement": pack.engagement,
        "public_key": signing.public_key_hex(),
        "key_id": signing.key_id(signing.public_key_hex()),
        "files": sorted((pack.file_hashes or {}).items()),
        "sizes": (pack.timings or {}).get("sizes", {}),
        "history": audit_events_for(pack) if pack.is_finished else [],
    }


@require_GET
def pack_detail_view(request, pk: int, pack_pk: int):
    pack = _pack_or_404(request, pk, pack_pk)
    return render(request, "evidence/pack_detail.html", _pack_context(request, pack))


@require_GET
def pack_progress_view(request, pk: int, pack_pk: int):
    """The self-refreshing progress block (htmx polls it every 2 s until the build finishes)."""
    pack = _pack_or_404(request, pk, pack_pk)
    return render(request, "evidence/_pack_progress.html", _pack_context(request, pack))


@require_GET
def pack_download_view(request, pk: int, pack_pk: int):
    pack = _pack_or_404(request, pk, pack_pk)
    try:
        fh = services.pack_open(actor=request.user, pack=pack)
    except ValidationFailed as exc:
        messages.error(request, str(exc))
        return redirect("evidence:pack", pk=pk, pack_pk=pack.pk)
    return FileResponse(fh, as_attachment=True, filename=pack.filename, content_type="application/zip")


@require_POST
def pack_verify_view(request, pk: int, pack_pk: int):
    pack = _pack_or_404(request, pk, pack_pk)
    try:
        report = services.pack_verify(actor=request.user, pack=pack)
    except ValidationFailed as exc:
        messages.error(request, str(exc))
        return redirect("evidence:pack", pk=pk, pack_pk=pack.pk)
    return render(request, "evidence/verify_result.html", {"report": report, "pack": pack, "engagement": pack.engagement})


@require_http_methods(["GET", "POST"])
def verify_upload_view(request):
    """Anyone signed in may check a pack they hold: the answer is about the uploaded bytes."""
    form = VerifyUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > settings.KEYTRAIL_PACK_UPLOAD_MAX_BYTES:
            form.add_error("file", f"The file is {upload.size:,} bytes; the limit is {settings.KEYTRAIL_PACK_UPLOAD_MAX_BYTES:,}.")
        else:
            try:
                report = services.pack_verify(actor=request.user, upload=upload, upload_name=upload.name)
            except RateLimited as exc:
                form.add_error(None, str(exc))
                response = render(request, "evidence/verify_form.html", {"form": form, "public_key": signing.public_key_hex()}, status=429)
                response["Retry-After"] = str(exc.retry_after)
                return response
            return render(request, "evidence/verify_result.html", {"report": report, "uploaded": upload.name})
    return render(request, "evidence/verify_form.html", {"form": form, "public_key": signing.public_key_hex()})
