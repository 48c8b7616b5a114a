"""Every view × every persona → the expected outcome.

The table is checked against the URL conf: a new named URL that is not in MATRIX fails
``test_every_url_is_in_the_matrix``, so no view escapes the permission review.

Personas: anonymous; each role; ``auditor_shared`` (auditor with view on the control);
``auditor`` (the role without the object permission); ``owner`` (an approver who owns the
control and so holds per-object change/evidence rights, but not share).
Outcomes: 200 ok, 302 redirect (login for anonymous), 403 refused (may see, may not act),
404 hidden (may not even see), 405 method not allowed.
"""

import datetime as dt

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from apps.accounts.roles import Role
from apps.audit.models import AuditEvent
from apps.controls import services
from tests.factories import make_user

PERSONAS = ["anonymous", "grc_lead", "approver", "reviewer", "auditor", "auditor_shared", "owner"]

# url name -> (method, {persona: status}); "*" is the default for personas not listed
MATRIX: dict[str, tuple[str, dict[str, int]]] = {
    "home": ("get", {"anonymous": 302, "*": 200}),
    "healthz": ("get", {"*": 200}),
    "login": ("get", {"anonymous": 200, "*": 302}),
    "logout": ("post", {"*": 302}),
    "catalog:list": ("get", {"anonymous": 302, "*": 200}),
    "catalog:detail": ("get", {"anonymous": 302, "*": 200}),
    "controls:list": ("get", {"anonymous": 302, "*": 200}),
    "controls:create": ("get", {"anonymous": 302, "grc_lead": 200, "*": 403}),
    "controls:detail": ("get", {"anonymous": 302, "grc_lead": 200, "auditor_shared": 200, "owner": 200, "*": 404}),
    "controls:edit": ("get", {"anonymous": 302, "grc_lead": 200, "owner": 200, "auditor_shared": 403, "*": 404}),
    "controls:share": ("get", {"anonymous": 302, "grc_lead": 200, "owner": 403, "auditor_shared": 403, "*": 404}),
    "controls:evidence_upload": ("get", {"anonymous": 302, "grc_lead": 200, "owner": 200, "auditor_shared": 403, "*": 404}),
    "controls:evidence_download": ("get", {"anonymous": 302, "grc_lead": 200, "owner": 200, "auditor_shared": 200, "*": 404}),
    "audit:list": ("get", {"anonymous": 302, "grc_lead": 200, "*": 403}),
    "audit:verify": ("post", {"anonymous": 302, "grc_lead": 200, "*": 403}),
    # Django's admin is for staff only; no demo role is staff.
    "admin:index": ("get", {"*": 302}),
}


def _url_names(patterns=None, namespace=""):
    for p in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(p, URLResolver):
            ns = f"{namespace}{p.namespace}:" if p.namespace else namespace
            yield from _url_names(p.url_patterns, ns)
        elif isinstance(p, URLPattern) and p.name:
            yield f"{namespace}{p.name}"


def test_every_url_is_in_the_matrix():
    names = {n for n in _url_names() if not n.startswith("admin:")} | {"admin:index"}
    missing = names - set(MATRIX)
    assert not missing, f"views without a permission row: {sorted(missing)}"
    assert not set(MATRIX) - names, "matrix names a URL that no longer exists"


@pytest.fixture
def world(db, catalog):
    people = {
        "grc_lead": make_user(Role.GRC_LEAD, username="m-grc"),
        "approver": make_user(Role.APPROVER, username="m-approver"),
        "reviewer": make_user(Role.REVIEWER, username="m-reviewer"),
        "auditor": make_user(Role.AUDITOR, username="m-auditor"),
        "auditor_shared": make_user(Role.AUDITOR, username="m-auditor-shared"),
        "owner": make_user(Role.APPROVER, username="m-owner"),
    }
    control = services.control_create(actor=people["grc_lead"], title="C", owner=people["owner"], narrative="n", requirements=[catalog[0]])
    services.control_share(actor=people["grc_lead"], control=control, grantee=people["auditor_shared"], permissions=["view_control"])
    evidence = services.control_evidence_attach(actor=people["grc_lead"], control=control, name="p.txt", content=b"policy", effective_date=dt.date(2026, 1, 1))
    kwargs = {
        "catalog:detail": {"ref": catalog[0].ref},
        "controls:detail": {"pk": control.pk},
        "controls:edit": {"pk": control.pk},
        "controls:share": {"pk": control.pk},
        "controls:evidence_upload": {"pk": control.pk},
        "controls:evidence_download": {"pk": control.pk, "evidence_id": evidence.pk},
    }
    return people, kwargs


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("name", sorted(MATRIX))
def test_view_by_persona(client, world, name, persona):
    people, kwargs = world
    method, outcomes = MATRIX[name]
    expected = outcomes.get(persona, outcomes["*"])
    if persona != "anonymous":
        client.force_login(people[persona])
    url = reverse(name, kwargs=kwargs.get(name))
    denied_before = AuditEvent.objects.filter(event_type="access.denied").count()
    response = getattr(client, method)(url)
    assert response.status_code == expected, f"{name} as {persona}: {response.status_code}, expected {expected}"
    if persona == "anonymous" and expected == 302 and name not in {"logout", "admin:index"}:
        assert response["Location"].startswith(reverse("login"))
    if expected in (403, 404):
        assert AuditEvent.objects.filter(event_type="access.denied").count() == denied_before + 1, "refusal not recorded"


@pytest.mark.parametrize("name", [n for n, (m, _) in MATRIX.items() if m == "post"])
def test_post_only_views_refuse_get(client, world, name):
    people, kwargs = world
    client.force_login(people["grc_lead"])
    assert client.get(reverse(name, kwargs=kwargs.get(name))).status_code == 405
