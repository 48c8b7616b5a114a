"""The bad-input corpus through every form: controls, evidence (description; file names are
in test_hostile_uploads.py), sources, exceptions, policy editing and login.

Each hostile value is POSTed as a browser would send it (form-encoded; the invalid-UTF-8
value as raw bytes on the wire) into one field of an otherwise valid form. The outcome is
either **stored faithfully**, read back from the database equal to what Django's form
handling documents (CharField strips leading and trailing whitespace; undecodable bytes
become U+FFFD when the request is decoded), or **refused clearly** (the form again, with an
error, nothing created): NUL (Django's ProhibitNullCharactersValidator), over the field's
length, blank where required, or refused by the service with its message. Never a 500. Every
page that then shows the value escapes it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from django.urls import reverse
from django.utils.html import escape

from apps.controls.models import Control
from apps.evaluation.models import PolicyVersion
from apps.exceptions_register.models import ExceptionRequest
from apps.inventory.models import Source
from apps.notifications.models import WebhookEndpoint
from tests.support.hostile import NUMBERS, TEXT, as_number, assert_escaped_html, assert_stored_or_refused, check_each
from tests.support.ledger import record_hostile

pytestmark = [pytest.mark.django_db, pytest.mark.hostile]


def post_raw(client, url: str, data: dict[str, Any]):
    """POST form-encoded like a browser; lone surrogates go out as the raw bytes they came from."""
    body = urlencode(data, doseq=True, encoding="utf-8", errors="surrogateescape")
    return client.post(url, body, content_type="application/x-www-form-urlencoded")


def as_received(value: str) -> str:
    """What Django's request parsing makes of ``value`` sent as above."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def expected_outcome(value: str, *, max_length: int, required: bool, strip: bool = True) -> tuple[str, str]:
    """``("stored", cleaned)`` or ``("refused", why)`` by Django's form rules."""
    cleaned = as_received(value)
    cleaned = cleaned.strip() if strip else cleaned
    if "\x00" in cleaned:
        return "refused", "null character"
    if not cleaned and required:
        return "refused", "required"
    if len(cleaned) > max_length:
        return "refused", "too long"
    return "stored", cleaned


@dataclass
class Entry:
    """One text field of one form: where to POST, a valid submission, how to read it back."""

    url: Callable[[dict], str]
    data: Callable[[dict], dict]
    field: str
    max_length: int
    read: Callable[[dict], Any]  # -> the stored value, or None when nothing was stored
    pages: Callable[[dict, Any], list[str]] = lambda ctx, obj: []
    required: bool = True
    stored_as: Callable[[str], Any] = lambda cleaned: cleaned
    service_may_refuse: bool = False
    reset: Callable[[], Any] = lambda: None  # before each value: names must be unique, etc.


def _control_data(ctx):
    return {
        "title": "Rotation",
        "requirements": [ctx["catalog"][0].pk],
        "owner": ctx["user"].pk,
        "narrative": "Keys rotate.",
        "implementation_status": Control.Status.choices[0][0],
        "test_frequency": Control.Frequency.choices[0][0],
        "rule_ids": "",
    }


def _exception_data(ctx):
    return {
        "title": "Batch job key",
        "rule_ids": ["iam-key-rotation-age"],
        "credential_ids": "",
        "identity_ids": "",
        "source_ids": "",
        "tag_key": "team",
        "tag_value": "payments",
        "justification": "Vendor cannot rotate before Q3.",
        "compensating_controls": "Key limited to one IP.",
        "risk": "medium",
        "owner": ctx["user"].pk,
        "expires_on": (dt.date.today() + dt.timedelta(days=60)).isoformat(),
        "ticket_ref": "CHG-1",
        "action": "submit",
    }


def _policy_data(ctx):
    from apps.evaluation.forms import PolicyForm
    from apps.evaluation.policy import DEFAULT_POLICY

    data = {k: v for k, v in PolicyForm.initial_for(DEFAULT_POLICY).items() if v is not False and v is not None}
    data["comment"] = "hostile input check"
    return data


def _webhook(ctx) -> WebhookEndpoint:
    """The endpoint whose edit form takes the values (registering answers 200 with its secret)."""
    from apps.notifications.services import endpoint_create

    endpoint = WebhookEndpoint.objects.order_by("pk").first()
    return endpoint or endpoint_create(actor=ctx["user"], name="chat", url="https://8.8.8.8/hook", events=["exception.approved"]).endpoint


def _webhook_data(ctx):
    return {"name": "chat", "url": "https://8.8.8.8/hook", "events": ["exception.approved"], "active": "on"}


def _webhook_pages(ctx, endpoint):
    return [reverse("notifications:endpoint_list"), reverse("notifications:endpoint_detail", args=[endpoint.pk])]


def _newest(model, **filters):
    return model.objects.filter(**filters).order_by("-pk").first()


def _control_pages(ctx, control):
    return [reverse("controls:list"), reverse("controls:detail", args=[control.pk])]


def _exception_pages(ctx, exception):
    return [reverse("exceptions:list"), reverse("exceptions:detail", args=[exception.pk])]


def _source_pages(ctx, source):
    return [reverse("inventory:source_list"), reverse("inventory:source_detail", args=[source.pk])]


def _audit_pages(ctx, obj):
    return [reverse("audit:list")]


ENTRIES: dict[str, Entry] = {
    "control.title": Entry(
        lambda c: reverse("controls:create"),
        _control_data,
        "title",
        200,
        lambda c: getattr(_newest(Control), "title", None),
        _control_pages,
    ),
    "control.narrative": Entry(
        lambda c: reverse("controls:create"),
        _control_data,
        "narrative",
        20000,
        lambda c: getattr(_newest(Control), "narrative", None),
        _control_pages,
    ),
    "source.name": Entry(
        lambda c: reverse("inventory:source_create"),
        lambda c: {
            "kind": "aws_account",
            "name": "prod",
            "role_arn": "arn:aws:iam::123456789012:role/audit",
            "external_id": "",
            "regions": "eu-west-1",
            "schedule_minutes": "1440",
            "enabled": "on",
        },
        "name",
        120,
        lambda c: getattr(_newest(Source), "name", None),
        _source_pages,
        reset=lambda: Source.objects.all().delete(),
    ),
    "source.external_id": Entry(
        lambda c: reverse("inventory:source_create"),
        lambda c: {
            "kind": "aws_account",
            "name": "prod",
            "role_arn": "arn:aws:iam::123456789012:role/audit",
            "external_id": "",
            "regions": "eu-west-1",
            "schedule_minutes": "1440",
            "enabled": "on",
        },
        "external_id",
        1224,
        lambda c: getattr(_newest(Source), "external_id", None),
        _source_pages,
        required=False,
        service_may_refuse=True,
    ),  # letters, digits and +=,.@:/- only, as AWS
    "exception.title": Entry(
        lambda c: reverse("exceptions:create"),
        _exception_data,
        "title",
        200,
        lambda c: getattr(_newest(ExceptionRequest), "title", None),
        _exception_pages,
    ),
    "exception.justification": Entry(
        lambda c: reverse("exceptions:create"),
        _exception_data,
        "justification",
        20000,
        lambda c: getattr(_newest(ExceptionRequest), "justification", None),
        _exception_pages,
    ),
    "exception.tag_value": Entry(
        lambda c: reverse("exceptions:create"),
        _exception_data,
        "tag_value",
        256,
        lambda c: (e := _newest(ExceptionRequest)) and e.scope.get("tag", {}).get("value"),
        _exception_pages,
        required=False,
        service_may_refuse=True,
    ),  # a tag key needs a value
    "exception.ticket_ref": Entry(
        lambda c: reverse("exceptions:create"),
        _exception_data,
        "ticket_ref",
        100,
        lambda c: getattr(_newest(ExceptionRequest), "ticket_ref", None),
        _exception_pages,
        required=False,
    ),
    "webhook.name": Entry(
        lambda c: reverse("notifications:endpoint_edit", args=[_webhook(c).pk]),
        _webhook_data,
        "name",
        100,
        lambda c: _webhook(c).name,
        _webhook_pages,
    ),
    # Almost every value is not an http(s) URL to a public address: refused by the service, with its reason.
    "webhook.url": Entry(
        lambda c: reverse("notifications:endpoint_edit", args=[_webhook(c).pk]),
        _webhook_data,
        "url",
        500,
        lambda c: _webhook(c).url,
        _webhook_pages,
        service_may_refuse=True,
    ),
    "policy.comment": Entry(
        lambda c: reverse("evaluation:policy_edit"),
        _policy_data,
        "comment",
        2000,
        lambda c: getattr(_newest(PolicyVersion), "comment", None) if PolicyVersion.objects.count() > c["versions"] else None,
        lambda c, obj: [reverse("evaluation:policy")],
        service_may_refuse=True,
    ),
    "policy.owner_tag_keys": Entry(
        lambda c: reverse("evaluation:policy_edit"),
        _policy_data,
        "owner_tag_keys",
        2000,
        lambda c: _newest(PolicyVersion).data.get("owner_tag_keys") if PolicyVersion.objects.count() > c["versions"] else None,
        lambda c, obj: [reverse("evaluation:policy")],
        service_may_refuse=True,
        stored_as=lambda cleaned: [k.strip() for k in cleaned.split(",") if k.strip()],
    ),
}


@pytest.fixture
def ctx(catalog, grc_lead, client):
    from apps.evaluation.services import policy_current

    client.force_login(grc_lead)
    policy_current()  # the first version exists before any edit
    return {"catalog": list(catalog), "user": grc_lead, "client": client, "versions": PolicyVersion.objects.count()}


@pytest.mark.parametrize("entry", ENTRIES, ids=ENTRIES.keys())
def test_every_text_field_stores_faithfully_or_refuses_clearly(ctx, entry):
    e = ENTRIES[entry]
    client = ctx["client"]

    def check(key, value):
        e.reset()
        before = e.read(ctx)
        response = post_raw(client, e.url(ctx), {**e.data(ctx), e.field: value})
        outcome = assert_stored_or_refused(response)
        expected, cleaned = expected_outcome(value, max_length=e.max_length, required=e.required)
        after = e.read(ctx)
        if outcome == "refused":
            assert after == before, "a refused submission stored something"
            assert expected == "refused" or e.service_may_refuse, "refused a value the form allows"
            assert_escaped_html(response, [value])  # the form shown again carries the value escaped
        else:
            assert expected == "stored", f"stored a value that should be refused ({cleaned})"
            assert after == e.stored_as(cleaned), f"{after!r:.200} != {e.stored_as(cleaned)!r:.200}"
            obj = {
                "control": _newest(Control),
                "source": _newest(Source),
                "exception": _newest(ExceptionRequest),
                "policy": _newest(PolicyVersion),
                "webhook": _newest(WebhookEndpoint),
            }[entry.split(".")[0]]
            for url in e.pages(ctx, obj):
                page = client.get(url)
                assert page.status_code == 200, url
                assert_escaped_html(page, [value])
                if "<" in cleaned and url.endswith(f"/{obj.pk}/"):
                    assert escape(cleaned[:60]) in page.content.decode()
        record_hostile("forms (text fields)", outcome)

    check_each(TEXT, check)
    # The audit trail shows what each change stored (once for all values: it lists them all).
    for url in _audit_pages(ctx, None):
        page = client.get(url)
        assert page.status_code == 200
        assert_escaped_html(page, TEXT.values())


POLICY_NUMBER_FIELDS = ["unused_days", "rotation_database", "coverage_grace_factor"]


@pytest.mark.parametrize("name", POLICY_NUMBER_FIELDS)
def test_policy_numbers_are_stored_in_range_or_refused(ctx, name):
    check_each(NUMBERS, lambda key, number: _policy_number(ctx, name, number))


def _policy_number(ctx, name, number):
    client = ctx["client"]
    before = PolicyVersion.objects.count()
    response = post_raw(client, reverse("evaluation:policy_edit"), {**_policy_data(ctx), name: number})
    outcome = assert_stored_or_refused(response)
    if outcome == "stored":
        value = as_number(number)
        assert value is not None and value > 0, f"{number} stored"
        stored = _newest(PolicyVersion).data
        flat = {**stored, **{f"rotation_{k}": v for k, v in (stored.get("rotation_days") or {}).items()}}
        assert float(flat[name]) == float(value)
    else:
        assert PolicyVersion.objects.count() == before
    record_hostile("forms (numbers)", outcome)


def test_source_schedule_numbers(ctx):
    check_each(NUMBERS, lambda key, number: _schedule_number(ctx, number))


def _schedule_number(ctx, number):
    Source.objects.all().delete()
    data = ENTRIES["source.name"].data(ctx)
    outcome = assert_stored_or_refused(post_raw(ctx["client"], reverse("inventory:source_create"), {**data, "schedule_minutes": number}))
    source = _newest(Source)
    if outcome == "stored":
        assert str(source.schedule_minutes) == number
    else:
        assert source is None
    record_hostile("forms (numbers)", outcome)


def test_login_refuses_hostile_credentials_without_crashing(client, grc_lead):
    check_each(TEXT, lambda key, value: _login(client, value))


def _login(client, value):
    for field_name in ("username", "password"):
        data = {"username": "grc", "password": "not-the-password", field_name: value}
        response = post_raw(client, reverse("login"), data)
        assert response.status_code in (200, 429), response.status_code  # 429: django-axes locked the name out after 5 failures
        assert "_auth_user_id" not in client.session
        assert_escaped_html(response, [value])
    record_hostile("login form", "refused", 2)
