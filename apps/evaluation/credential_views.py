"""A credential's page: what the inventory knows of it, and the rules' live verdicts on it.

It joins two layers, so the higher one (evaluation) serves it; config/urls.py mounts it at
its place in the inventory's URLs (``inventory:credential_detail``)."""

from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.audit.access import require_object
from apps.core.permissions import has_perm
from apps.evaluation.selectors import credential_verdicts
from apps.inventory import selectors as inventory_selectors
from apps.inventory.models import Credential


def _credential_or_404(pk: int) -> Credential:
    try:
        return inventory_selectors.credential_get(pk=pk)
    except Credential.DoesNotExist:
        raise Http404("Not found") from None


@require_GET
def credential_detail_view(request, pk: int):
    credential = _credential_or_404(pk)
    require_object(request, credential.source, "inventory.view_source")
    inventory_selectors.with_ages([credential])
    context = {
        "credential": credential,
        "tags": inventory_selectors.key_values(credential.tags),
        "attributes": inventory_selectors.key_values(credential.attributes),
        "last_used_basis": inventory_selectors.last_used_basis(credential),
        "versions": inventory_selectors.credential_versions(credential=credential),
        "events": inventory_selectors.credential_events(credential=credential),
        # The rules' live verdicts on this credential, for those who read posture.
        "verdicts": credential_verdicts(credential=credential) if has_perm(request.user, "evaluation.view_evaluation") else None,
    }
    return render(request, "inventory/credential_detail.html", context)
