"""Every view × every persona → the expected outcome.

The table (tests/support/permission_matrix.py) is checked against the URL conf: a new named URL that is not in MATRIX fails
``test_every_url_is_in_the_matrix``, so no view escapes the permission review.

Personas: anonymous; each role; ``auditor_shared`` (auditor with view on the control, on
the inventory source and on the exception);
``auditor`` (the role without the object permission); ``owner`` (an approver who owns the
control and so holds per-object change/evidence rights, but not share; they also own the
exception, which the GRC lead requested, so may not decide it).
Outcomes: 200 ok, 302 redirect (login for anonymous), 403 refused (may see, may not act),
404 hidden (may not even see), 405 method not allowed.
"""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from apps.audit.models import AuditEvent
from tests.support.permission_matrix import MATRIX, PERSONAS, matrix_world, world  # noqa: F401 - world: the seeded fixture


def _url_names(patterns=None, namespace=""):
    for p in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(p, URLResolver):
            ns = f"{namespace}{p.namespace}:" if p.namespace else namespace
            yield from _url_names(p.url_patterns, ns)
        elif isinstance(p, URLPattern) and p.name:
            yield f"{namespace}{p.name}"


def test_every_url_is_in_the_matrix():
    # The REST API has its own matrix, generated from its router (tests/api/test_api_matrix.py).
    names = {n for n in _url_names() if not n.startswith(("admin:", "api:"))} | {"admin:index"}
    missing = names - set(MATRIX)
    assert not missing, f"views without a permission row: {sorted(missing)}"
    assert not set(MATRIX) - names, "matrix names a URL that no longer exists"


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
