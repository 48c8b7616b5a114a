"""API token pages: "My API tokens" (create — the token is shown once — list, revoke) and, for
holders of ``api.view_apitoken`` (GRC leads), the inventory of every user's tokens."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.api import selectors
from apps.api.forms import TokenForm
from apps.api.models import ApiToken
from apps.api.services import token_issue, token_revoke
from apps.audit.access import require
from apps.core.errors import IllegalTransition, ValidationFailed
from apps.core.pagination import paginate
from apps.core.permissions import has_perm

INVENTORY = "api.view_apitoken"


@require_http_methods(["GET", "POST"])
def my_tokens_view(request):
    """Every signed-in user manages their own tokens; a token can do no more than its owner."""
    form = TokenForm(request.POST or None)
    issued = None
    if request.method == "POST" and form.is_valid():
        try:
            issued = token_issue(
                actor=request.user, name=form.cleaned_data["name"], scope=form.cleaned_data["scope"], expires_at=form.expires_at()
            )
        except ValidationFailed as exc:
            form.add_error(None, str(exc))
        else:
            form = TokenForm()
    context = {
        "form": form,
        "issued": issued,
        "tokens": selectors.token_list(user=request.user),
        "can_view_inventory": has_perm(request.user, INVENTORY),
    }
    response = render(request, "api/my_tokens.html", context)
    if issued:
        response["Cache-Control"] = "no-store"  # the page holds the token: keep it out of every cache
    return response


@require_POST
def token_revoke_view(request, pk: int):
    token = ApiToken.objects.filter(pk=pk).select_related("user").first()
    if token is None:
        raise Http404("Not found")
    mine = token.user_id == request.user.pk
    if not mine:
        # Another user's token: hidden unless one may see the inventory; refused unless one may revoke any.
        require(request, INVENTORY, hide=True)
        require(request, "api.revoke_any_apitoken")
    try:
        token_revoke(actor=request.user, token=token)
    except IllegalTransition as exc:
        messages.error(request, f"Nothing was changed: {exc}")
    else:
        messages.success(request, f"Token “{token.name}” ({token.prefix}) is revoked; it no longer works.")
    return redirect("tokens:mine" if mine else "tokens:inventory")


@require_GET
def token_inventory_view(request):
    require(request, INVENTORY)
    filters = {k: request.GET.get(k, "").strip()[:100] for k in ("state", "owner")}
    page = paginate(request, selectors.token_inventory(**filters), per_page=50)
    return render(
        request,
        "api/token_inventory.html",
        {
            "page": page,
            "filters": filters,
            "states": ["active", "unused", "expired", "revoked"],
            "can_revoke": has_perm(request.user, "api.revoke_any_apitoken"),
        },
    )
