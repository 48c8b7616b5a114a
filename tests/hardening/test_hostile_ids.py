"""Hostile ids through every integer parameter, UI and API (issue #19, item 9): ids beyond the
database's integer range, negative, fractional or not numbers at all are a 400 (or the form
again, or a redirect with a message) or a 404 — never a 500.

The path cases are generated: every named URL of the UI with an ``<int:...>`` part (from the
permission matrix's table, which a test keeps equal to the URL conf) and every API route with a
``pk``, from the router. The query-string, form and JSON-body cases list each integer parameter
the views read.
"""

import datetime as dt

import pytest
from django.urls import NoReverseMatch, reverse

from apps.api.urls import router
from tests.support.clients import bearer, issue
from tests.support.hostile import IDS, PATH_IDS
from tests.support.ledger import record_hostile
from tests.support.permission_matrix import MATRIX, matrix_world, world  # noqa: F401 - the shared fixture

pytestmark = [pytest.mark.django_db, pytest.mark.hostile]
REFUSED = {400, 404, 405}
SENTINEL = 987654321  # no row has this id; replaced by each hostile one in the URL
SOON = (dt.date.today() + dt.timedelta(days=10)).isoformat()


def _ok(response, *, allowed=REFUSED) -> bool:
    return response.status_code in allowed


def _check(entry_point: str, outcomes: list[tuple[str, int]], *, allowed=REFUSED) -> None:
    assert outcomes, "no case was run"
    for _, status in outcomes:
        record_hostile(entry_point, "server error" if status >= 500 else "refused")
    bad = [(case, status) for case, status in outcomes if status not in allowed]
    assert not bad, f"{entry_point}: {bad}"


def _ui_client(client, people, persona="grc_lead"):
    client.raise_request_exception = False  # a crash must show as the 500 a user would get
    client.force_login(people[persona])
    return client


def test_every_ui_path_id(client, world):
    people, kwargs = world
    client = _ui_client(client, people)
    outcomes = []
    cases = [(name, kw) for name, kw in kwargs.items() if any(isinstance(v, int) for v in kw.values())]
    assert len(cases) > 30
    for name, kw in cases:
        method = MATRIX[name][0]
        for key, value in kw.items():
            if not isinstance(value, int):
                continue
            placeholder = reverse(name, kwargs={**kw, key: SENTINEL})
            for label, hostile in PATH_IDS.items():
                url = placeholder.replace(f"/{SENTINEL}/", f"/{hostile}/")
                assert hostile in url
                outcomes.append((f"{name} {key}={label}", getattr(client, method)(url).status_code))
    _check("UI path ids", outcomes, allowed={404})


def _api_routes():
    for pattern in router.urls:
        if "pk" in pattern.pattern.regex.groupindex:
            yield f"api:{pattern.name}", [m for m in pattern.callback.actions if m != "head"]


def test_every_api_path_id(world):
    people, _ = world
    api = bearer(issue(people["grc_lead"]))
    api.raise_request_exception = False
    outcomes = []
    routes = list(_api_routes())
    assert len(routes) > 15
    for name, methods in routes:
        for label, hostile in IDS.items():
            try:
                url = reverse(name, kwargs={"pk": hostile})
            except NoReverseMatch:  # the route takes digits only: the JSON 404 of unknown paths
                url = reverse(name, kwargs={"pk": 1}).replace("/1/", f"/{hostile}/")
            for method in methods:
                outcomes.append((f"{method} {name} pk={label}", getattr(api, method)(url, {}, format="json").status_code))
    _check("API path ids", outcomes, allowed={400, 404})


@pytest.mark.parametrize("path", ["inventory:credential_list", "inventory:identity_list"])
def test_the_source_filter_of_the_inventory_pages(client, world, path):
    people, _ = world
    client = _ui_client(client, people)
    outcomes = [(label, client.get(reverse(path), {"source": value}).status_code) for label, value in IDS.items()]
    # An id that names nothing: an empty list; a number that cannot be an id: 400; text: ignored, as always.
    assert dict(outcomes)["int64_over"] == 400 and dict(outcomes)["int64_max"] == 200 and dict(outcomes)["text"] == 200
    _check("UI query ids (source filter)", outcomes, allowed={200, 400})


@pytest.mark.parametrize("path", ["api:credential-list", "api:identity-list"])
def test_the_source_filter_of_the_api(world, path):
    people, _ = world
    api = bearer(issue(people["grc_lead"]))
    api.raise_request_exception = False
    outcomes = [(label, api.get(reverse(path), {"source": value}).status_code) for label, value in IDS.items()]
    assert dict(outcomes)["int64_over"] == 400 and dict(outcomes)["int64_max"] == 200
    _check("API query ids (source filter)", outcomes, allowed={200, 400})


def test_review_forms(client, world):
    """decide / delegate (the reviewer), reassign / remind (the GRC lead): item ids and user ids."""
    people, kwargs = world
    outcomes = []
    posts = {
        "reviewer": [
            ("reviews:decide", lambda v: {"items": [v], "decision": "keep", "justification": "x"}),
            ("reviews:delegate", lambda v: {"items": [v], "to_reviewer": people["reviewer"].pk, "note": "x"}),
            ("reviews:delegate", lambda v: {"items": [], "to_reviewer": v, "note": "x"}),
        ],
        "grc_lead": [
            ("reviews:reassign", lambda v: {"items": [v], "to_reviewer": people["reviewer"].pk, "note": "x"}),
            ("reviews:reassign", lambda v: {"from_reviewer": v, "to_reviewer": people["reviewer"].pk, "note": "x"}),
            ("reviews:reassign", lambda v: {"to_reviewer": v, "note": "x"}),
            ("reviews:remind", lambda v: {"reviewer": v}),
        ],
    }
    for persona, cases in posts.items():
        client = _ui_client(client, people, persona)
        for name, data in cases:
            url = reverse(name, kwargs=kwargs[name])
            for label, value in IDS.items():
                response = client.post(url, data(value))
                outcomes.append((f"{name} {label}", response.status_code))
    # The views answer a refused form with a redirect to the campaign and a message.
    _check("UI form ids (reviews)", outcomes, allowed={302, 400})


def test_exception_scope_fields(client, world):
    people, _ = world
    client = _ui_client(client, people)
    outcomes = []
    for field, query in (("credential_ids", "credential"), ("identity_ids", "identity"), ("source_ids", "source")):
        for label, value in IDS.items():
            shown = client.get(reverse("exceptions:create"), {query: value})
            outcomes.append((f"GET ?{query}={label}", shown.status_code))
            posted = client.post(
                reverse("exceptions:create"),
                {
                    "title": "t",
                    "rule_ids": ["iam-key-unused"],
                    field: value,
                    "justification": "j",
                    "compensating_controls": "c",
                    "risk": "low",
                    "owner": people["owner"].pk,
                    "expires_on": SOON,
                },
            )
            outcomes.append((f"POST {field}={label}", posted.status_code))
            if label in ("int64_over", "huge", "negative"):
                assert posted.status_code == 200 and "Not a" in posted.content.decode(), (field, label)
    _check("UI form ids (exception scope)", outcomes, allowed={200, 302})  # 302: created (an id that names nothing yet)


def test_exception_scope_fields_in_the_api(world):
    people, _ = world
    api = bearer(issue(people["grc_lead"]))
    api.raise_request_exception = False
    outcomes = []
    for field in ("credential_ids", "identity_ids", "source_ids"):
        for label, value in IDS.items():
            body = {
                "title": "t",
                "rule_ids": ["iam-key-unused"],
                "scope": {field: [value]},
                "justification": "j",
                "compensating_controls": "c",
                "risk": "low",
                "owner": people["owner"].username,
                "expires_on": SOON,
            }
            outcomes.append((f"{field}={label}", api.post(reverse("api:exception-list"), body, format="json").status_code))
    assert dict(outcomes)["source_ids=int64_over"] == 400
    _check("API body ids (exception scope)", outcomes, allowed={201, 400})


def test_review_bodies_in_the_api(world):
    people, kwargs = world
    outcomes = []
    campaign = kwargs["reviews:start"]["pk"]
    for persona, action, body in (
        ("reviewer", "decide", lambda v: {"items": [v], "decision": "keep", "justification": "x"}),
        ("reviewer", "delegate", lambda v: {"items": [v], "to_reviewer": "m-grc", "note": "x"}),
        ("grc_lead", "reassign", lambda v: {"items": [v], "to_reviewer": "m-reviewer", "note": "x"}),
    ):
        api = bearer(issue(people[persona], name=f"ids-{action}"))
        api.raise_request_exception = False
        for label, value in IDS.items():
            response = api.post(f"/api/v1/campaigns/{campaign}/{action}/", body(value), format="json")
            outcomes.append((f"{action} {label}", response.status_code))
    _check("API body ids (reviews)", outcomes, allowed={200, 400, 403, 404, 409})  # 200: none of the ids was an item (count 0)


def test_multiple_choice_id_fields(client, world):
    """The forms whose lists of ids are checked with one ``__in`` query."""
    people, _ = world
    client = _ui_client(client, people)
    posts = [
        ("controls:create", lambda v: {"title": "t", "requirements": [v], "owner": people["owner"].pk, "narrative": "n"}),
        ("evidence:create", lambda v: {"name": "e", "period_start": "2026-01-01", "period_end": "2026-02-01", "sources": [v]}),
        ("evidence:create", lambda v: {"name": "e", "period_start": "2026-01-01", "period_end": "2026-02-01", "requirements": [v]}),
        ("reviews:create", lambda v: {"name": "r", "sources": [v], "due_date": SOON, "fallback_reviewer": people["reviewer"].pk}),
    ]
    outcomes = []
    for name, data in posts:
        for label, value in IDS.items():
            response = client.post(reverse(name), data(value))
            outcomes.append((f"{name} {label}", response.status_code))
            if label in ("int64_over", "huge"):  # refused with the form's error, nothing created
                body = response.content.decode()
                assert response.status_code == 200 and ("is not a valid value" in body or "Select a valid choice" in body), (name, label)
    _check("UI form ids (multiple choice)", outcomes, allowed={200})
