"""The one share page every shareable object uses (controls, sources, ...)."""

from django.contrib import messages
from django.shortcuts import redirect, render

from apps.accounts.forms import ShareForm
from apps.accounts.sharing import grantable_permissions, object_share, object_shares, object_unshare, share_permission
from apps.audit.access import require_object
from apps.core.errors import ValidationFailed


def share_page(request, *, obj, view_perm: str, back_url: str, crumbs: list[tuple[str, str]], protected_user_ids=frozenset()):
    """GET: the form and who has access. POST action=share|unshare: grant or remove, then back."""
    require_object(request, obj, view_perm, share_permission(obj))
    form = ShareForm(request.POST or None, permissions=grantable_permissions(obj))
    if request.method == "POST" and form.is_valid():
        unshare = request.POST.get("action") == "unshare"
        grantee, perms = form.cleaned_data["user"], form.cleaned_data["permissions"]
        try:
            if unshare:
                object_unshare(actor=request.user, obj=obj, grantee=grantee, permissions=perms, protected_user_ids=set(protected_user_ids))
            else:
                object_share(actor=request.user, obj=obj, grantee=grantee, permissions=perms)
        except ValidationFailed as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"{'Removed access for' if unshare else 'Shared with'} {grantee}.")
            return redirect(back_url)
    return render(
        request, "core/share_form.html", {"form": form, "object": obj, "back_url": back_url, "crumbs": crumbs, "shares": object_shares(obj)}
    )
