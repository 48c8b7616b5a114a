"""The exception register's pages: the register and its filters, the "Expiring soon" box, a
request, an exception's page and its actions, the approval queue, and the links from
findings.

Exceptions are made through the services (as a person would through the pages) unless a
test is about the page itself; what is under test is what the pages show and who may act,
with separation of duties enforced by the service even when the page is bypassed.
"""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone
from guardian.shortcuts import assign_perm

from apps.accounts.roles import Role
from apps.audit.models import AuditEvent
from apps.evaluation.services import policy_current
from apps.exceptions_register.models import ExceptionDecision, ExceptionRequest
from apps.exceptions_register.services import exception_approve, exception_request
from apps.inventory.models import Credential, Identity, Source
from tests.factories import CredentialFactory, EvaluationFactory, FindingFactory, IdentityFactory, SourceFactory, make_user

pytestmark = pytest.mark.django_db

TODAY = timezone.now().date()
HOSTILE_TITLE = "<script>alert('title')</script>\u202eexe.txt"
FORMULA = "=cmd|' /C calc'!A0"
RULE = "iam-key-rotation-age"


# --- rows ------------------------------------------------------------------------------------


@pytest.fixture
def approver2(db):
    return make_user(Role.APPROVER, username="approver2")


@pytest.fixture
def inv(grc_lead):
    now = timezone.now()
    prod = SourceFactory(
        name="prod",
        kind=Source.Kind.AWS_ACCOUNT,
        aws_account_id="123456789012",
        role_arn="arn:aws:iam::123456789012:role/audit",
        created_by=grc_lead,
    )
    alice = IdentityFactory(
        source=prod,
        scope="aws_iam",
        external_id="arn:aws:iam::123456789012:user/alice",
        name="alice",
        kind=Identity.Kind.HUMAN,
        fingerprint="f",
        first_seen_at=now,
    )
    key = CredentialFactory(
        source=prod,
        scope="aws_iam",
        external_id="AKIAOLD",
        credential_type=Credential.Type.ACCESS_KEY,
        name="AKIAOLD",
        identity=alice,
        enabled=True,
        fingerprint="f",
        first_seen_at=now,
    )
    return {"prod": prod, "alice": alice, "key": key}


def _request(actor, owner=None, **changes) -> ExceptionRequest:
    values = {
        "title": "Legacy batch key",
        "rule_ids": [RULE],
        "scope": {"credential_ids": [1]},
        "justification": "vendor cannot rotate yet",
        "compensating_controls": "IP allow-list on the key",
        "risk": "medium",
        "owner": owner or actor,
        "expires_on": TODAY + dt.timedelta(days=60),
    }
    values.update(changes)
    return exception_request(actor=actor, **values).exception


def _post_data(**changes) -> dict:
    data = {
        "title": "Batch job key",
        "rule_ids": [RULE],
        "credential_ids": "",
        "identity_ids": "",
        "source_ids": "",
        "tag_key": "",
        "tag_value": "",
        "justification": "The vendor's batch cannot take a rotated key before Q3.",
        "compensating_controls": "Key limited to one IP; usage alerts.",
        "risk": "medium",
        "expires_on": (TODAY + dt.timedelta(days=60)).isoformat(),
        "ticket_ref": "CHG-1",
        "action": "submit",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def _body(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def _page(body: str) -> str:
    return body.split("</head>", 1)[1]


def _denials() -> int:
    return AuditEvent.objects.filter(event_type="access.denied").count()


def _approve(client, exception, comment="Risk accepted until the vendor fix."):
    return client.post(reverse("exceptions:approve", args=[exception.pk]), {"approve-comment": comment})


# --- every page, by role ---------------------------------------------------------------------


def test_the_pages_render_for_each_role(client, grc_lead, approver, reviewer, auditor, inv):
    mine = _request(reviewer, owner=reviewer, title="Reviewer's own", scope={"credential_ids": [inv["key"].pk]})
    other = _request(grc_lead, owner=approver, title="GRC lead's")
    pages = ["exceptions:list", "exceptions:create", "exceptions:queue"]

    client.force_login(grc_lead)
    body = _body(client.get(reverse("exceptions:list")))
    assert ">Exceptions</a>" in body and "Reviewer&#x27;s own" in body and "GRC lead&#x27;s" in body and "Expiring soon" in body
    assert "Request an exception" in body and "Approval queue" not in body  # the GRC lead requests and revokes, never decides
    assert client.get(reverse("exceptions:queue")).status_code == 403
    detail = _body(client.get(reverse("exceptions:detail", args=[other.pk])))
    assert "Legacy batch key" not in detail and "GRC lead&#x27;s" in detail and "Act on it" not in detail  # pending, requested by them

    client.force_login(approver)
    for name in pages:
        _body(client.get(reverse(name)))
    detail = _body(client.get(reverse("exceptions:detail", args=[mine.pk])))
    assert f'action="{reverse("exceptions:approve", args=[mine.pk])}"' in detail and "Reject" in detail
    assert f'href="{reverse("inventory:credential_detail", args=[inv["key"].pk])}"' in detail and ">AKIAOLD</a>" in detail
    detail = _body(client.get(reverse("exceptions:detail", args=[other.pk])))
    assert reverse("exceptions:approve", args=[other.pk]) not in detail  # they own it

    client.force_login(reviewer)
    register = client.get(reverse("exceptions:list"))
    assert [e.pk for e in register.context["page"]] == [mine.pk]
    body = _body(register)
    assert ">Exceptions</a>" in body and "GRC lead&#x27;s" not in body and "Approval queue" not in body
    _body(client.get(reverse("exceptions:create")))
    detail = _body(client.get(reverse("exceptions:detail", args=[mine.pk])))
    assert f"credential #{inv['key'].pk} (in a source you cannot view)" in detail and "AKIAOLD" not in detail
    assert client.get(reverse("exceptions:detail", args=[other.pk])).status_code == 404
    assert client.get(reverse("exceptions:queue")).status_code == 403

    client.force_login(auditor)
    body = _body(client.get(reverse("exceptions:list")))
    assert ">Exceptions</a>" not in body and "No exception to show" in body
    assert client.get(reverse("exceptions:create")).status_code == 403
    assign_perm("view_exceptionrequest", auditor, other)  # shown to an auditor
    body = _body(client.get(reverse("exceptions:list")))
    assert ">Exceptions</a>" in body and "GRC lead&#x27;s" in body and "Request an exception" not in body
    detail = _body(client.get(reverse("exceptions:detail", args=[other.pk])))
    assert "Act on it" not in detail
    assert client.get(reverse("exceptions:detail", args=[999999])).status_code == 404


# --- request, approve ------------------------------------------------------------------------


def test_a_reviewer_requests_and_an_approver_approves(client, reviewer, approver, inv):
    client.force_login(reviewer)
    response = client.post(reverse("exceptions:create"), _post_data(credential_ids=f"{inv['key'].pk}", owner=reviewer.pk))
    exception = ExceptionRequest.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("exceptions:detail", args=[exception.pk])
    assert exception.state == "pending" and exception.requester == reviewer and exception.required_approvals == 1
    assert exception.scope == {"credential_ids": [inv["key"].pk]} and exception.ticket_ref == "CHG-1"
    body = _body(client.get(response["Location"]))
    assert f"{exception.ref} requested; it awaits 1 approval." in body and "Pending approval" in body
    assert AuditEvent.objects.filter(event_type="exception.requested", actor=reviewer, target_id=str(exception.pk)).exists()

    client.force_login(approver)
    assert [e.pk for e in client.get(reverse("exceptions:queue")).context["page"]] == [exception.pk]
    response = _approve(client, exception, "Accepted: <b>IP-bound</b>")
    assert response.status_code == 302
    exception.refresh_from_db()
    assert exception.state == "approved" and exception.decided_at is not None
    decision = ExceptionDecision.objects.get(exception=exception)
    assert decision.approver == approver and decision.decision == "approve" and decision.comment == "Accepted: <b>IP-bound</b>"
    body = _body(client.get(response["Location"]))
    assert f"{exception.ref} is approved." in body and "Accepted: &lt;b&gt;IP-bound&lt;/b&gt;" in body
    assert "exception.approval_given" in body  # the history
    assert client.get(reverse("exceptions:queue")).context["page"].paginator.count == 0


def test_a_high_risk_exception_needs_two_different_approvers(client, grc_lead, approver, approver2, reviewer):
    exception = _request(reviewer, risk="high", expires_on=TODAY + dt.timedelta(days=80))
    assert exception.required_approvals == 2
    client.force_login(approver)
    assert _approve(client, exception).status_code == 302
    exception.refresh_from_db()
    assert exception.state == "pending"
    body = _body(client.get(reverse("exceptions:detail", args=[exception.pk])))
    assert "(1 of 2)" in body and "1/2 approvals" in body
    assert reverse("exceptions:approve", args=[exception.pk]) not in body  # they have decided
    assert exception.pk not in [e.pk for e in client.get(reverse("exceptions:queue")).context["page"]]

    body = _body(_approve(client, exception, "again"))  # the same approver, forged: the service refuses
    assert f"has already decided {exception.ref}" in body
    assert ExceptionDecision.objects.filter(exception=exception).count() == 1

    client.force_login(approver2)
    assert exception.pk in [e.pk for e in client.get(reverse("exceptions:queue")).context["page"]]
    assert _approve(client, exception).status_code == 302
    exception.refresh_from_db()
    assert exception.state == "approved" and ExceptionDecision.objects.filter(exception=exception).count() == 2


# --- separation of duties ----------------------------------------------------------------------


def test_the_requester_may_not_approve_their_own_request(client, approver, approver2):
    exception = _request(approver, owner=approver2)
    client.force_login(approver)
    detail = _body(client.get(reverse("exceptions:detail", args=[exception.pk])))
    assert reverse("exceptions:approve", args=[exception.pk]) not in detail  # not offered...
    denied = _denials()
    response = _approve(client, exception)  # ...and refused when forged
    assert response.status_code == 403
    exception.refresh_from_db()
    assert exception.state == "pending" and not ExceptionDecision.objects.exists()
    assert _denials() == denied + 1
    denial = AuditEvent.objects.filter(event_type="access.denied").order_by("-seq").first()
    assert denial.actor == approver and "requested" in denial.changes["permission"]
    assert client.post(reverse("exceptions:reject", args=[exception.pk]), {"reject-comment": "no"}).status_code == 403
    assert ExceptionRequest.objects.get().state == "pending" and _denials() == denied + 2


def test_a_reviewer_requester_is_refused_by_the_view(client, reviewer):
    exception = _request(reviewer)
    client.force_login(reviewer)
    denied = _denials()
    assert _approve(client, exception).status_code == 403  # may view it, may not decide
    assert _denials() == denied + 1 and ExceptionRequest.objects.get().state == "pending"


def test_the_owner_may_not_approve_either(client, grc_lead, approver):
    exception = _request(grc_lead, owner=approver)
    client.force_login(approver)
    denied = _denials()
    assert _approve(client, exception).status_code == 403
    exception.refresh_from_db()
    assert exception.state == "pending" and not ExceptionDecision.objects.exists() and _denials() == denied + 1
    assert "owns" in AuditEvent.objects.filter(event_type="access.denied").order_by("-seq").first().changes["permission"]


def test_approving_an_approved_exception_shows_why_and_changes_nothing(client, grc_lead, approver, approver2):
    exception = _request(grc_lead)
    exception_approve(actor=approver, exception=exception, comment="ok")
    client.force_login(approver2)
    events = AuditEvent.objects.count()
    body = _body(_approve(client, exception))
    assert f"Nothing was changed: {exception.ref} is approved; it cannot be decided." in body
    assert ExceptionDecision.objects.count() == 1 and AuditEvent.objects.count() == events


def test_a_decision_needs_a_comment(client, grc_lead, approver):
    exception = _request(grc_lead)
    client.force_login(approver)
    body = _body(_approve(client, exception, "  "))
    assert "Comment: say why." in body and 'class="field has-error"' in body
    assert ExceptionRequest.objects.get().state == "pending" and not ExceptionDecision.objects.exists()
    assert client.get(reverse("exceptions:approve", args=[exception.pk])).status_code == 405


# --- the request form ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes, message, field",
    [
        (
            {"risk": "critical", "expires_on": (TODAY + dt.timedelta(days=31)).isoformat()},
            "Expiry: a critical-risk exception may last at most 30 days",
            "expires_on",
        ),
        (
            {"expires_on": (TODAY + dt.timedelta(days=181)).isoformat()},
            "Expiry: a medium-risk exception may last at most 180 days",
            "expires_on",
        ),
        ({"expires_on": TODAY.isoformat()}, "Expiry: an exception must end on a future date.", "expires_on"),
        ({"justification": "   "}, "This field is required.", "justification"),
        ({"credential_ids": ""}, "Scope: an empty scope excuses every subject of these rules", "confirm_broad"),
        ({"credential_ids": ["12", "abc"]}, "Not a credential id: “abc”.", "credential_ids"),
        ({"tag_key": "team", "tag_value": ""}, "Scope: a tag needs a key", None),
        ({"rule_ids": ["no-such-rule"]}, "Select a valid choice.", "rule_ids"),
    ],
)
def test_a_refused_request_shows_the_error_and_creates_nothing(client, reviewer, inv, changes, message, field):
    client.force_login(reviewer)
    data = _post_data(credential_ids=str(inv["key"].pk), owner=reviewer.pk)
    data.update(changes)
    response = client.post(reverse("exceptions:create"), data)
    body = _body(response)
    assert message.replace("“", "&ldquo;").replace("”", "&rdquo;") in body or message in body, body.split("<form")[1][:3000]
    assert ExceptionRequest.objects.count() == 0 and not AuditEvent.objects.filter(event_type="exception.requested").exists()
    form = response.context["form"]
    assert (field in form.errors) if field else form.non_field_errors()


def test_an_empty_scope_needs_confirming_then_is_broad(client, grc_lead):
    client.force_login(grc_lead)
    data = _post_data(owner=grc_lead.pk)
    assert client.post(reverse("exceptions:create"), data).status_code == 200 and not ExceptionRequest.objects.exists()
    response = client.post(reverse("exceptions:create"), {**data, "confirm_broad": "on"})
    assert response.status_code == 302
    exception = ExceptionRequest.objects.get()
    assert exception.scope == {} and exception.scope_is_broad
    assert "Every subject of these rules" in _body(client.get(response["Location"]))


def test_a_scope_matching_nothing_is_saved_with_a_warning(client, grc_lead, inv):
    client.force_login(grc_lead)
    response = client.post(
        reverse("exceptions:create"),
        _post_data(credential_ids="999999", tag_key="team", tag_value="payments", owner=grc_lead.pk),
        follow=True,
    )
    body = _body(response)
    assert "The scope matches no present credential, identity or source" in body and "msg-warning" in body
    assert "credential #999999 (not in the inventory)" in body and "team=payments" in body
    assert ExceptionRequest.objects.get().scope == {"credential_ids": [999999], "tag": {"key": "team", "value": "payments"}}


def test_the_form_is_prefilled_from_a_failing_finding(client, approver, inv):
    client.force_login(approver)
    response = client.get(
        reverse("exceptions:create"), {"rule": RULE, "credential": inv["key"].pk, "identity": "x1", "source": str(inv["prod"].pk)}
    )
    body = _body(response)
    assert f'name="rule_ids" value="{RULE}" checked' in body  # chosen by name in the rules' picker
    assert f'name="credential_ids" value="{inv["key"].pk}" checked> <span dir="auto">AKIAOLD</span>' in body
    assert f'name="source_ids" value="{inv["prod"].pk}" checked> <span dir="auto">prod</span>' in body
    assert 'name="identity_ids" value' not in body  # junk ignored
    assert "critical 30 days" in body and "high 90 days" in body  # the maximum per risk
    assert response.context["form"].initial["owner"] == approver
    body = _body(client.get(reverse("exceptions:create"), {"rule": "<script>"}))
    assert "<script>" not in _page(body)


def test_a_draft_is_saved_then_submitted_by_its_requester_only(client, reviewer, approver, inv):
    client.force_login(reviewer)
    response = client.post(reverse("exceptions:create"), _post_data(credential_ids=str(inv["key"].pk), owner=reviewer.pk, action="draft"))
    exception = ExceptionRequest.objects.get()
    assert exception.state == "draft" and "saved as a draft" in _body(client.get(response["Location"]))
    client.force_login(approver)
    assert reverse("exceptions:submit", args=[exception.pk]) not in _body(client.get(reverse("exceptions:detail", args=[exception.pk])))
    assert client.post(reverse("exceptions:submit", args=[exception.pk])).status_code == 403
    client.force_login(reviewer)
    assert client.post(reverse("exceptions:submit", args=[exception.pk])).status_code == 302
    exception.refresh_from_db()
    assert exception.state == "pending" and AuditEvent.objects.filter(event_type="exception.pending", actor=reviewer).exists()


# --- revoke, close, renew, the renewal chain --------------------------------------------------


def test_revoke_close_and_renew(client, grc_lead, approver, approver2, reviewer):
    first = _request(reviewer, owner=reviewer)
    exception_approve(actor=approver, exception=first, comment="ok")
    client.force_login(reviewer)
    detail = _body(client.get(reverse("exceptions:detail", args=[first.pk])))
    assert reverse("exceptions:close", args=[first.pk]) in detail and reverse("exceptions:revoke", args=[first.pk]) not in detail
    assert client.post(reverse("exceptions:revoke", args=[first.pk]), {"revoke-comment": "x"}).status_code == 403

    # Renewal: a new pending request linked to the old, which runs on.
    body = _body(
        client.post(
            reverse("exceptions:renew", args=[first.pk]),
            {"renew-expires_on": (TODAY + dt.timedelta(days=400)).isoformat(), "renew-justification": "still waiting"},
        )
    )
    assert "may last at most 180 days" in body and ExceptionRequest.objects.count() == 1
    response = client.post(
        reverse("exceptions:renew", args=[first.pk]),
        {"renew-expires_on": (TODAY + dt.timedelta(days=150)).isoformat(), "renew-justification": "still waiting"},
    )
    second = ExceptionRequest.objects.get(renewal_of=first)
    assert response.status_code == 302 and response["Location"] == reverse("exceptions:detail", args=[second.pk])
    assert (
        second.state == "pending"
        and second.justification == "still waiting"
        and second.compensating_controls == first.compensating_controls
    )
    body = _body(client.get(response["Location"]))
    assert f"{second.ref} renews {first.ref}" in body and reverse("exceptions:detail", args=[first.pk]) in body
    body = _body(client.get(reverse("exceptions:detail", args=[first.pk])))
    assert reverse("exceptions:detail", args=[second.pk]) in body and reverse("exceptions:renew", args=[first.pk]) not in body
    body = _body(
        client.post(
            reverse("exceptions:renew", args=[first.pk]),
            {"renew-expires_on": (TODAY + dt.timedelta(days=10)).isoformat(), "renew-justification": "twice"},
        )
    )
    assert "already has a renewal in progress or approved" in body and ExceptionRequest.objects.count() == 2

    # Revoked by an approver (a comment required), closed by the owner.
    client.force_login(approver2)
    body = _body(client.post(reverse("exceptions:revoke", args=[first.pk]), {"revoke-comment": ""}))
    assert "Comment: say why the exception is revoked." in body and ExceptionRequest.objects.get(pk=first.pk).state == "approved"
    assert client.post(reverse("exceptions:revoke", args=[first.pk]), {"revoke-comment": "vendor fixed it"}).status_code == 302
    first.refresh_from_db()
    assert (
        first.state == "revoked"
        and AuditEvent.objects.filter(event_type="exception.revoked", actor=approver2, message="vendor fixed it").exists()
    )
    exception_approve(actor=approver, exception=second, comment="ok")
    client.force_login(reviewer)
    assert client.post(reverse("exceptions:close", args=[second.pk]), {}).status_code == 302
    second.refresh_from_db()
    assert second.state == "closed"
    body = _body(client.post(reverse("exceptions:close", args=[second.pk]), {}))
    assert f"{second.ref} is closed; it cannot be closed." in body


# --- the queue -----------------------------------------------------------------------------


def test_the_queue_excludes_own_requests_and_owned_ones_oldest_first(client, grc_lead, approver, reviewer):
    older = _request(reviewer, title="older")
    newer = _request(grc_lead, title="newer")
    ExceptionRequest.objects.filter(pk=older.pk).update(submitted_at=timezone.now() - dt.timedelta(days=2))
    _request(approver, owner=reviewer, title="mine")
    _request(grc_lead, owner=approver, title="owned by me")
    _request(reviewer, title="draft", submit=False)
    approved = _request(reviewer, title="approved")
    exception_approve(actor=make_user(Role.APPROVER, username="other-approver"), exception=approved, comment="ok")
    client.force_login(approver)
    page = client.get(reverse("exceptions:queue")).context["page"]
    assert [e.title for e in page] == ["older", "newer"]  # not "mine", "owned by me", the draft or the approved one
    assert [e.pk for e in page] == [older.pk, newer.pk]


# --- the register: filters, expiring soon, query count ---------------------------------------


def test_the_register_filters_and_the_expiring_box(client, grc_lead, approver, reviewer, inv):
    soon = _request(reviewer, title="soon", expires_on=TODAY + dt.timedelta(days=5), risk="high")
    later = _request(grc_lead, owner=approver, title="later", rule_ids=["iam-key-unused"], expires_on=TODAY + dt.timedelta(days=60))
    pending = _request(grc_lead, owner=reviewer, title="pending", expires_on=TODAY + dt.timedelta(days=20))
    for e in (soon, soon, later):  # high risk: two approvers
        exception_approve(actor=make_user(Role.APPROVER), exception=e, comment="ok")
    ended = _request(grc_lead, title="ended", expires_on=TODAY + dt.timedelta(days=3))
    ExceptionRequest.objects.filter(pk=ended.pk).update(state="expired", expires_on=TODAY - dt.timedelta(days=3))
    client.force_login(grc_lead)
    url = reverse("exceptions:list")

    def titles(**params):
        return sorted(e.title for e in client.get(url, params).context["page"])

    assert titles() == ["ended", "later", "pending", "soon"]
    assert titles(state="approved") == ["later", "soon"]
    assert titles(rule="iam-key-unused") == ["later"]
    assert titles(owner="approver") == ["later"]
    assert titles(risk="high") == ["soon"]
    assert (
        titles(expiry="7") == ["soon"]
        and titles(expiry="30") == ["pending", "soon"]
        and titles(expiry="90") == ["later", "pending", "soon"]
    )
    assert titles(expiry="expired") == ["ended"]
    assert titles(mine="requested") == ["ended", "later", "pending"] and titles(mine="owned") == ["ended"]
    assert titles(state="junk", risk="junk", expiry="junk", page="99") == titles()

    response = client.get(url)
    assert [e.title for e in response.context["expiring"]] == ["soon"]  # approved, within 30 days; not the pending one
    body = _body(response)
    box = body.split('id="expiring"')[1].split("</section>")[0]
    assert soon.ref in box and "in 5 days" in box and later.ref not in box
    rows = body.split('id="rows"')[1]
    assert "in 60 days" in rows and "expired" in rows and "2/2" in rows and "1 credential" in rows
    partial = _body(client.get(url, {"state": "pending"}, HTTP_HX_REQUEST="true"))
    assert "<html" not in partial and pending.ref in partial and soon.ref not in partial


def test_the_register_makes_a_fixed_number_of_queries(client, grc_lead, approver, reviewer, django_assert_max_num_queries):
    def grow(n):
        for i in range(n):
            e = _request(
                reviewer if i % 2 else grc_lead,
                owner=approver if i % 3 else reviewer,
                title=f"e{i}",
                expires_on=TODAY + dt.timedelta(days=5 + i),
            )
            if i % 2 == 0:
                exception_approve(actor=make_user(Role.APPROVER), exception=e, comment="ok")

    counts = []
    # Warm per-process caches (content types, ...) on every page measured: a test that runs first
    # in its process (a fresh xdist worker) would otherwise count their queries once.
    for persona in (grc_lead, reviewer):
        client.force_login(persona)
        client.get(reverse("exceptions:list"))
    client.force_login(approver)
    client.get(reverse("exceptions:queue"))
    for n in (4, 30):  # each round leaves some in the queue
        grow(n)
        row = []
        for persona in (grc_lead, reviewer):
            client.force_login(persona)
            with django_assert_max_num_queries(14) as register:
                assert client.get(reverse("exceptions:list")).status_code == 200
            row.append(len(register.captured_queries))
        client.force_login(approver)
        with django_assert_max_num_queries(12) as queue:
            assert client.get(reverse("exceptions:queue")).status_code == 200
        row.append(len(queue.captured_queries))
        counts.append(row)
    assert counts[0] == counts[1], counts


# --- escaping ------------------------------------------------------------------------------


def test_hostile_title_and_justification_are_escaped(client, grc_lead, approver, inv):
    client.force_login(grc_lead)
    response = client.post(
        reverse("exceptions:create"),
        _post_data(
            title=HOSTILE_TITLE,
            justification=f"{FORMULA}\n<img src=x onerror=alert(1)>",
            compensating_controls=FORMULA,
            ticket_ref="<b>T</b>",
            tag_key="team",
            tag_value="<svg onload=alert(1)>",
            owner=approver.pk,
        ),
    )
    exception = ExceptionRequest.objects.get()
    assert response.status_code == 302 and exception.title == HOSTILE_TITLE and exception.justification.startswith(FORMULA)
    for url in (reverse("exceptions:list"), reverse("exceptions:detail", args=[exception.pk])):
        body = _page(_body(client.get(url)))
        assert "<script>alert" not in body and "<img src=x" not in body and "<svg onload" not in body and "<b>T</b>" not in body, url
        assert "&lt;script&gt;alert(&#x27;title&#x27;)&lt;/script&gt;" in body, url
    detail = _body(client.get(reverse("exceptions:detail", args=[exception.pk])))
    assert "=cmd|&#x27; /C calc&#x27;!A0" in detail and "&lt;img src=x onerror=alert(1)&gt;" in detail
    assert "team=&lt;svg onload=alert(1)&gt;" in detail
    client.force_login(make_user(Role.APPROVER, username="third"))
    queue = _page(_body(client.get(reverse("exceptions:queue"))))
    assert "&lt;script&gt;alert(" in queue and "<script>alert" not in queue


# --- links from findings, and what an exception excuses -------------------------------------------


def test_findings_link_to_their_exception_and_offer_a_request(client, grc_lead, approver, inv, catalog):
    exception = _request(grc_lead, owner=approver, scope={"credential_ids": [inv["key"].pk]})
    now = timezone.now()
    evaluation = EvaluationFactory(state="succeeded", policy_version=policy_current(), as_of=now, finished_at=now, counts={})
    common = {"evaluation": evaluation, "severity": "high", "source": inv["prod"], "subject_label": "AKIAOLD"}
    FindingFactory(
        **common,
        rule_id=RULE,
        status="excepted",
        subject_type="credential",
        credential=inv["key"],
        identity=inv["alice"],
        reason="key is 400 days old",
        exception_id=exception.pk,
    )
    FindingFactory(
        **common,
        rule_id="iam-key-unused",
        status="fail",
        subject_type="credential",
        credential=inv["key"],
        identity=inv["alice"],
        reason="unused",
    )
    FindingFactory(
        **{**common, "subject_label": "alice"},
        rule_id="console-password-no-mfa",
        status="fail",
        subject_type="identity",
        identity=inv["alice"],
        reason="no MFA",
    )
    client.force_login(grc_lead)
    findings = _body(client.get(reverse("evaluation:finding_list")))
    detail_url = reverse("exceptions:detail", args=[exception.pk])
    create = reverse("exceptions:create")
    assert f'<a href="{detail_url}">exception #{exception.pk}</a>' in findings
    assert f'href="{create}?rule=iam-key-unused&amp;credential={inv["key"].pk}"' in findings
    assert f'href="{create}?rule=console-password-no-mfa&amp;identity={inv["alice"].pk}"' in findings
    credential = _body(client.get(reverse("inventory:credential_detail", args=[inv["key"].pk])))
    assert f'<a href="{detail_url}">exception #{exception.pk}</a>' in credential
    assert f'href="{create}?rule=iam-key-unused&amp;credential={inv["key"].pk}"' in credential

    detail = _body(client.get(detail_url))
    section = detail.split('id="excused"')[1].split("</section>")[0]
    assert f"Findings of evaluation #{evaluation.pk}" in section and ": 1." in section and "key is 400 days old" in section
    assert "unused" not in section

    # Whoever reads posture without request_exception is offered no request link.
    from django.contrib.auth.models import Permission

    auditor = make_user(Role.AUDITOR, username="aud")
    auditor.user_permissions.add(Permission.objects.get(codename="view_evaluation", content_type__app_label="evaluation"))
    assign_perm("view_source", auditor, inv["prod"])
    client.force_login(auditor)
    findings = _body(client.get(reverse("evaluation:finding_list")))
    assert "AKIAOLD" in findings and "Request an exception" not in findings
