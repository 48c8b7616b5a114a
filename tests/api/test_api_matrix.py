"""Every API endpoint × every persona → the expected outcome, and parity with the UI.

The endpoints are read from the router (every URL name × every HTTP method its view
answers), so an endpoint added without a row here fails ``test_every_endpoint_is_in_the_matrix``.
Personas and their world are the UI matrix's (tests/test_permission_matrix.py); each calls
the API with a real read-write token of its own. Writes are sent with an empty body: an
allowed request is then refused for its input (400) or its state (409), or succeeds; a
refused one is 403 (may see, may not act) or 404 (may not see), and is recorded.
"""

import pytest
from django.urls import reverse

from apps.api.urls import router
from apps.audit.models import AuditEvent
from apps.evaluation.models import Evaluation
from apps.reviews.models import ReviewItem
from tests.support.clients import bearer, issue
from tests.support.permission_matrix import MATRIX as UI_MATRIX
from tests.support.permission_matrix import PERSONAS, matrix_world, world  # noqa: F401 - the shared fixture

VISIBLE = {"grc_lead": 200, "approver": 200, "owner": 200, "auditor_shared": 200, "*": 404}
POSTURE = {"grc_lead": 200, "approver": 200, "owner": 200, "*": 403}
CAMPAIGN = {"grc_lead": 200, "reviewer": 200, "auditor_shared": 200, "*": 404}
ENGAGEMENT = {"grc_lead": 200, "auditor_shared": 200, "*": 404}
WEBHOOK = {"grc_lead": 200, "*": 404}

# (url name, method) -> ({persona: status}, the UI view it must agree with, or None)
MATRIX: dict[tuple[str, str], tuple[dict[str, int], str | None]] = {
    ("api:schema", "get"): ({"*": 200}, None),
    ("api:docs", "get"): ({"*": 200}, None),
    ("api:source-list", "get"): ({"*": 200}, "inventory:source_list"),
    ("api:source-list", "post"): ({"grc_lead": 400, "*": 403}, "inventory:source_create"),
    ("api:source-detail", "get"): (VISIBLE, "inventory:source_detail"),
    ("api:source-detail", "patch"): (
        {"grc_lead": 200, "approver": 403, "owner": 403, "auditor_shared": 403, "*": 404},
        "inventory:source_edit",
    ),
    ("api:source-collect", "post"): (
        {"grc_lead": 202, "approver": 403, "owner": 403, "auditor_shared": 403, "*": 404},
        "inventory:source_collect",
    ),
    ("api:run-list", "get"): ({"*": 200}, "inventory:run_list"),
    ("api:run-list", "post"): ({"grc_lead": 202, "*": 403}, "inventory:source_collect_all"),
    ("api:run-detail", "get"): (VISIBLE, "inventory:run_detail"),
    ("api:run-retry", "post"): ({"grc_lead": 202, "approver": 403, "owner": 403, "auditor_shared": 403, "*": 404}, "inventory:run_retry"),
    ("api:credential-list", "get"): ({"*": 200}, "inventory:credential_list"),
    ("api:credential-detail", "get"): (VISIBLE, "inventory:credential_detail"),
    ("api:credential-versions", "get"): (VISIBLE, "inventory:credential_detail"),
    ("api:credential-events", "get"): (VISIBLE, "inventory:credential_detail"),
    ("api:identity-list", "get"): ({"*": 200}, "inventory:identity_list"),
    ("api:identity-detail", "get"): (VISIBLE, "inventory:identity_detail"),
    ("api:identity-versions", "get"): (VISIBLE, "inventory:identity_detail"),
    ("api:requirement-status-list", "get"): (POSTURE, "evaluation:dashboard"),
    ("api:requirement-status-detail", "get"): (POSTURE, "evaluation:requirement"),
    ("api:finding-list", "get"): (POSTURE, "evaluation:finding_list"),
    ("api:evaluation-list", "get"): (POSTURE, "evaluation:evaluation_list"),
    ("api:evaluation-list", "post"): ({"grc_lead": 202, "*": 403}, "evaluation:evaluate"),
    ("api:evaluation-detail", "get"): (POSTURE, "evaluation:evaluation_list"),
    ("api:control-list", "get"): ({"*": 200}, "controls:list"),
    ("api:control-list", "post"): ({"grc_lead": 400, "*": 403}, "controls:create"),
    ("api:control-detail", "get"): ({"grc_lead": 200, "auditor_shared": 200, "owner": 200, "*": 404}, "controls:detail"),
    ("api:control-detail", "patch"): ({"grc_lead": 200, "owner": 200, "auditor_shared": 403, "*": 404}, "controls:edit"),
    ("api:exception-list", "get"): ({"*": 200}, "exceptions:list"),
    ("api:exception-list", "post"): ({"auditor": 403, "auditor_shared": 403, "*": 400}, "exceptions:create"),
    ("api:exception-detail", "get"): (VISIBLE, "exceptions:detail"),
    # No comment: the approver is refused for the input (400); the owner by separation of duties (403).
    ("api:exception-approve", "post"): (
        {"approver": 400, "grc_lead": 403, "owner": 403, "auditor_shared": 403, "*": 404},
        "exceptions:approve",
    ),
    ("api:exception-reject", "post"): (
        {"approver": 400, "grc_lead": 403, "owner": 403, "auditor_shared": 403, "*": 404},
        "exceptions:reject",
    ),
    # The exception is pending: revoking is refused for its state (409) to those who may revoke.
    ("api:exception-revoke", "post"): (
        {"grc_lead": 409, "approver": 409, "owner": 409, "auditor_shared": 403, "*": 404},
        "exceptions:revoke",
    ),
    # Access reviews. Reads on the signed-off campaign (shared with auditor_shared; the reviewer
    # persona reviewed it), actions on the one in review (every item the reviewer's).
    ("api:campaign-list", "get"): ({"*": 200}, "reviews:list"),
    ("api:campaign-list", "post"): ({"grc_lead": 400, "*": 403}, "reviews:create"),
    ("api:campaign-detail", "get"): (CAMPAIGN, "reviews:detail"),
    ("api:campaign-items", "get"): (CAMPAIGN, "reviews:detail"),
    ("api:campaign-remediation", "get"): (CAMPAIGN, "reviews:detail"),
    ("api:campaign-start", "post"): ({"grc_lead": 409, "reviewer": 403, "*": 404}, "reviews:start"),  # already started
    ("api:campaign-signoff", "post"): ({"grc_lead": 409, "reviewer": 403, "*": 404}, "reviews:sign_off"),  # items undecided
    ("api:campaign-cancel", "post"): ({"grc_lead": 400, "reviewer": 403, "*": 404}, "reviews:cancel"),  # no comment
    ("api:campaign-reassign", "post"): ({"grc_lead": 400, "reviewer": 403, "*": 404}, "reviews:reassign"),
    ("api:campaign-decide", "post"): ({"reviewer": 400, "grc_lead": 403, "*": 404}, "reviews:decide"),
    ("api:campaign-delegate", "post"): ({"reviewer": 400, "grc_lead": 403, "*": 404}, "reviews:delegate"),
    ("api:review-item-detail", "get"): ({"grc_lead": 200, "reviewer": 200, "*": 404}, None),  # an item of the campaign in review
    ("api:review-item-decide", "post"): ({"reviewer": 400, "grc_lead": 403, "*": 404}, "reviews:decide"),
    # Evidence: the engagement is shared with auditor_shared; its pack is a small stored zip.
    ("api:engagement-list", "get"): ({"*": 200}, "evidence:list"),
    ("api:engagement-list", "post"): ({"grc_lead": 400, "*": 403}, "evidence:create"),
    ("api:engagement-detail", "get"): (ENGAGEMENT, "evidence:detail"),
    ("api:engagement-packs", "get"): (ENGAGEMENT, "evidence:detail"),
    ("api:engagement-packs", "post"): ({"grc_lead": 202, "auditor_shared": 403, "*": 404}, "evidence:build"),  # defaults: queued
    ("api:pack-detail", "get"): (ENGAGEMENT, "evidence:pack"),
    ("api:pack-download", "get"): (ENGAGEMENT, "evidence:pack_download"),
    ("api:pack-verify", "post"): (ENGAGEMENT, "evidence:pack_verify"),
    # Outbound webhooks: the GRC lead's; an endpoint is hidden from everyone else.
    ("api:webhook-list", "get"): ({"grc_lead": 200, "*": 403}, "notifications:endpoint_list"),
    ("api:webhook-list", "post"): ({"grc_lead": 400, "*": 403}, "notifications:endpoint_list"),
    ("api:webhook-detail", "get"): (WEBHOOK, "notifications:endpoint_detail"),
    ("api:webhook-detail", "patch"): (WEBHOOK, "notifications:endpoint_edit"),  # an empty change: nothing to do
    ("api:webhook-rotate-secret", "post"): (WEBHOOK, "notifications:endpoint_rotate"),
    ("api:webhook-deliveries", "get"): (WEBHOOK, "notifications:endpoint_detail"),
}


def router_endpoints() -> set[tuple[str, str]]:
    """(url name, method) for every route the router generates, plus the schema and its docs."""
    endpoints = {("api:schema", "get"), ("api:docs", "get")}
    for pattern in router.urls:
        for method in getattr(pattern.callback, "actions", {}):
            if method == "head":  # DRF adds HEAD to every GET once a view has served a request
                continue
            endpoints.add((f"api:{pattern.name}", method))
    return endpoints


def test_every_endpoint_is_in_the_matrix():
    assert router_endpoints() == set(MATRIX), (
        f"missing: {sorted(router_endpoints() - set(MATRIX))}, stale: {sorted(set(MATRIX) - router_endpoints())}"
    )


def _kind(status: int) -> str:
    return {403: "refused", 404: "hidden"}.get(status, "allowed")


@pytest.mark.parametrize("key", sorted(k for k, (_, ui) in MATRIX.items() if ui))
def test_the_api_agrees_with_the_ui(key):
    """Whoever the UI refuses (403) or hides from (404), the API refuses or hides from too."""
    outcomes, ui_name = MATRIX[key]
    ui_outcomes = UI_MATRIX[ui_name][1]
    for persona in PERSONAS[1:]:
        api = outcomes.get(persona, outcomes["*"])
        ui = ui_outcomes.get(persona, ui_outcomes["*"])
        assert _kind(api) == _kind(ui), f"{key} as {persona}: API {api}, UI {ui_name} {ui}"


def _url(name: str, kwargs: dict) -> str:
    people_kwargs = {
        "source": kwargs["inventory:source_detail"],
        "run": kwargs["inventory:run_detail"],
        "credential": kwargs["inventory:credential_detail"],
        "identity": kwargs["inventory:identity_detail"],
        "control": kwargs["controls:detail"],
        "exception": kwargs["exceptions:detail"],
        "requirement-status": kwargs["evaluation:requirement"],
        "evaluation": {"pk": Evaluation.objects.order_by("pk").values_list("pk", flat=True).first()},
        "campaign": kwargs["reviews:detail"] if name.endswith(("-detail", "-items", "-remediation")) else kwargs["reviews:start"],
        "review-item": {"pk": ReviewItem.objects.filter(campaign_id=kwargs["reviews:start"]["pk"]).values_list("pk", flat=True).first()},
        "engagement": kwargs["evidence:detail"],
        "pack": {"pk": kwargs["evidence:pack"]["pack_pk"]},
        "webhook": kwargs["notifications:endpoint_detail"],
    }
    if name.endswith("-list") or name in ("api:schema", "api:docs"):
        return reverse(name)
    basename = max((b for b in people_kwargs if name.startswith(f"api:{b}-")), key=len)
    return reverse(name, kwargs=people_kwargs[basename])


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("key", sorted(MATRIX))
def test_endpoint_by_persona(world, key, persona):  # noqa: F811 - the fixture imported above
    people, kwargs = world
    name, method = key
    outcomes, _ = MATRIX[key]
    url = _url(name, kwargs)
    if persona == "anonymous":
        from rest_framework.test import APIClient

        response = getattr(APIClient(), method)(url, {}, format="json")
        assert response.status_code == 401, f"{key} anonymous: {response.status_code}"
        assert response["WWW-Authenticate"].startswith("Bearer")
        return
    expected = outcomes.get(persona, outcomes["*"])
    client = bearer(issue(people[persona]))
    denied_before = AuditEvent.objects.filter(event_type="access.denied").count()
    response = getattr(client, method)(url, {}, format="json") if method != "get" else client.get(url)
    assert response.status_code == expected, (
        f"{key} as {persona}: {response.status_code} {getattr(response, 'data', '')}, expected {expected}"
    )
    if expected in (403, 404):
        assert AuditEvent.objects.filter(event_type="access.denied").count() == denied_before + 1, "refusal not recorded"
