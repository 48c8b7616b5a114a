"""Requesting an exception from what fails: rules and scope chosen by name, the risk starting
at the rules' severity (lower only with a reason approvers read), a live count of what the
scope would excuse, a scope that excuses nothing refused, and every refusal at once."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone
from guardian.shortcuts import assign_perm

from apps.core.errors import ValidationFailed
from apps.exceptions_register.models import ExceptionRequest
from apps.exceptions_register.scoping import excusable_findings, picks, rules_severity
from apps.exceptions_register.services import exception_approve, exception_request
from tests.factories import CredentialFactory, EvaluationFactory, FindingFactory, IdentityFactory, SourceFactory, make_user

pytestmark = pytest.mark.django_db
TODAY = timezone.now().date()
ROTATION, MFA = "iam-key-rotation-age", "console-password-no-mfa"  # medium, high


@pytest.fixture
def world(grc_lead):
    prod, dev = SourceFactory(name="prod"), SourceFactory(name="dev")
    alice = IdentityFactory(source=prod, name="alice", tags={"team": "payments"})
    key = CredentialFactory(source=prod, identity=alice, name="AKIAOLD")
    other = CredentialFactory(source=dev, name="AKIADEV")
    evaluation = EvaluationFactory(state="succeeded", finished_at=timezone.now())
    fails = FindingFactory(evaluation=evaluation, credential=key, identity=alice, rule_id=ROTATION, severity="medium")
    FindingFactory(evaluation=evaluation, identity=alice, rule_id=MFA, severity="high")
    return {"prod": prod, "dev": dev, "alice": alice, "key": key, "other": other, "evaluation": evaluation, "fails": fails}


def _values(owner, **changes):
    values = {
        "title": "Legacy key",
        "rule_ids": [ROTATION],
        "scope": {"credential_ids": []},
        "justification": "vendor",
        "compensating_controls": "IP allow-list",
        "risk": "medium",
        "owner": owner,
        "expires_on": TODAY + dt.timedelta(days=30),
    }
    values.update(changes)
    return values


def test_the_risk_starts_at_the_rules_highest_severity():
    assert rules_severity([ROTATION]) == "medium" and rules_severity([ROTATION, MFA]) == "high" and rules_severity([]) == ""


def test_a_lower_risk_needs_a_reason_which_is_kept_and_audited(grc_lead, world):
    scope = {"identity_ids": [world["alice"].pk]}
    with pytest.raises(ValidationFailed) as refused:
        exception_request(actor=grc_lead, **_values(grc_lead, rule_ids=[MFA], scope=scope, risk="low"))
    assert refused.value.messages == ["Risk reason: the rules' highest severity is high; say why the risk is only low (approvers read it)."]
    outcome = exception_request(
        actor=grc_lead, **_values(grc_lead, rule_ids=[MFA], scope=scope, risk="low", risk_reason="break-glass account, vaulted")
    )
    assert outcome.exception.risk_reason == "break-glass account, vaulted" and outcome.exception.required_approvals == 1
    from apps.audit.models import AuditEvent

    assert AuditEvent.objects.get(event_type="exception.requested").changes["risk_reason"] == "break-glass account, vaulted"


def test_a_scope_that_excuses_nothing_is_refused_once_there_is_an_evaluation(grc_lead, world):
    with pytest.raises(ValidationFailed, match=r"Scope: it excuses no failing finding of these rules in the latest evaluation"):
        exception_request(actor=grc_lead, **_values(grc_lead, scope={"credential_ids": [world["other"].pk]}))
    with pytest.raises(ValidationFailed, match=r"excuses no failing finding"):  # the rule fails, but not for this source
        exception_request(actor=grc_lead, **_values(grc_lead, scope={"source_ids": [world["dev"].pk]}))
    assert not ExceptionRequest.objects.exists()
    for scope in (
        {"credential_ids": [world["key"].pk]},
        {"identity_ids": [world["alice"].pk]},  # an identity covers its credentials' findings
        {"source_ids": [world["prod"].pk]},
        {"tag": {"key": "team", "value": "payments"}},  # the identity's tag covers its credentials
    ):
        assert excusable_findings(rule_ids=[ROTATION], scope=scope).count == 1, scope
        exception_request(actor=grc_lead, **_values(grc_lead, scope=scope))
    assert excusable_findings(rule_ids=[ROTATION, MFA], scope={"identity_ids": [world["alice"].pk]}).count == 2
    assert excusable_findings(rule_ids=[ROTATION], scope={}, broad=True).count == 1


def test_every_refusal_is_given_at_once(grc_lead, world):
    with pytest.raises(ValidationFailed) as refused:
        exception_request(
            actor=grc_lead,
            **_values(
                grc_lead,
                title=" ",
                rule_ids=[MFA],
                risk="medium",
                scope={"credential_ids": [world["other"].pk]},
                expires_on=TODAY,
                justification="",
            ),
        )
    fields = [m.partition(":")[0] for m in refused.value.messages]
    assert fields == ["Title", "Justification", "Risk reason", "Expiry", "Scope"]
    with pytest.raises(ValidationFailed) as refused:
        exception_request(actor=grc_lead, **_values(grc_lead, title="", scope={"credential_ids": ["x"]}))
    assert [m.partition(":")[0] for m in refused.value.messages] == ["Title", "Scope"]


def test_the_form_shows_every_error_at_once(client, grc_lead, world):
    client.force_login(grc_lead)
    response = client.post(
        reverse("exceptions:create"),
        {
            "title": "",
            "rule_ids": [MFA],
            "credential_ids": [str(world["other"].pk)],
            "justification": "x",
            "compensating_controls": "",
            "risk": "low",
            "owner": grc_lead.pk,
            "expires_on": "not a date",
        },
    )
    form = response.context["form"]
    assert set(form.errors) == {"title", "compensating_controls", "risk_reason", "expires_on", "__all__"}
    body = response.content.decode()
    assert "say why the risk is only low" in body and "Scope: it excuses no failing finding" in body
    assert f'name="credential_ids" value="{world["other"].pk}" checked> <span dir="auto">AKIADEV</span>' in response.content.decode()
    assert not ExceptionRequest.objects.exists()


def test_from_a_failing_finding_the_form_is_filled_by_name_and_its_risk_by_severity(client, grc_lead, world):
    client.force_login(grc_lead)
    body = client.get(
        reverse("exceptions:create"), {"rule": MFA, "identity": world["alice"].pk, "credential": world["key"].pk}
    ).content.decode()
    assert f'name="rule_ids" value="{MFA}" checked>' in body
    assert (
        f'name="identity_ids" value="{world["alice"].pk}" checked> <span dir="auto">alice</span> <span class="muted small">prod</span>'
        in body
    )
    assert '<option value="high" selected>' in body  # the MFA rule is high


def test_the_request_link_on_the_findings_list_names_the_rule_and_subject(client, grc_lead, world):
    client.force_login(grc_lead)
    body = client.get(reverse("evaluation:finding_list"), {"rule": ROTATION}).content.decode()
    link = reverse("exceptions:create") + f"?rule={ROTATION}&amp;credential={world['key'].pk}"
    assert link in body


def test_the_pickers_find_by_name_only_what_one_may_view(client, world):
    approver = make_user("approver", username="apr")
    client.force_login(approver)
    url = reverse("exceptions:pick")
    body = client.get(url, {"kind": "credential", "q": "akia"}).content.decode()
    assert "AKIAOLD" in body and "AKIADEV" in body  # approvers view every source
    body = client.get(url, {"kind": "credential", "q": "akia", "credential_ids": [str(world["key"].pk)]}).content.decode()
    assert f'value="{world["key"].pk}" checked' in body and body.count("AKIAOLD") == 1  # chosen once, not found again
    assert "Nothing you may view matches" in client.get(url, {"kind": "identity", "q": "zzz"}).content.decode()
    assert "Active access keys" in client.get(url, {"kind": "rule", "q": "rotat"}).content.decode()

    reviewer = make_user("reviewer", username="rev")  # may request, views no source
    assert [p.name for p in picks(user=reviewer, kind="credential", q="AKIA")] == []
    assign_perm("inventory.view_source", reviewer, world["dev"])
    assert [p.name for p in picks(user=reviewer, kind="credential", q="AKIA")] == ["AKIADEV"]
    assert picks(user=reviewer, kind="nonsense", q="x") == []


def test_the_live_count_says_what_the_scope_would_excuse(client, grc_lead, world):
    client.force_login(grc_lead)
    url = reverse("exceptions:excusable")
    body = client.get(url, {"rule_ids": [ROTATION], "credential_ids": [str(world["key"].pk)]}).content.decode()
    assert "Would excuse <strong>1</strong> finding of these rules" in body and "AKIAOLD" in body
    body = client.get(url, {"rule_ids": [ROTATION], "source_ids": [str(world["dev"].pk)]}).content.decode()
    assert "excuses no failing finding of these rules" in body and "it would be refused" in body
    body = client.get(url, {"rule_ids": [MFA, ROTATION], "identity_ids": [str(world["alice"].pk)], "risk": "medium"}).content.decode()
    assert "Would excuse <strong>2</strong> findings" in body and "highest severity of these rules is <strong>high</strong>" in body
    assert "You chose a lower risk" in body
    assert "Choose the scope" in client.get(url, {"rule_ids": [ROTATION]}).content.decode()


def test_two_approvers_walk_a_high_risk_request_to_the_end(grc_lead, world):
    first, second = make_user("approver", username="a1"), make_user("approver", username="a2")
    outcome = exception_request(
        actor=grc_lead, **_values(grc_lead, rule_ids=[MFA], risk="high", scope={"identity_ids": [world["alice"].pk]})
    )
    exception = exception_approve(actor=first, exception=outcome.exception, comment="ok")
    assert exception.state == "pending"
    assert exception_approve(actor=second, exception=exception, comment="ok too").state == "approved"


def test_a_rules_failing_list_links_to_a_request_naming_its_subjects(client, grc_lead, world):
    client.force_login(grc_lead)
    body = client.get(reverse("evaluation:finding_list"), {"rule": ROTATION, "status": "fail"}).content.decode()
    link = reverse("exceptions:create") + f"?rule={ROTATION}&amp;credential={world['key'].pk}"
    assert link in body and "these 1 failing finding of iam-key-rotation-age" in body
    form = client.get(reverse("exceptions:create"), {"rule": ROTATION, "credential": world["key"].pk}).content.decode()
    assert f'name="credential_ids" value="{world["key"].pk}" checked> <span dir="auto">AKIAOLD</span>' in form
    assert "Request an exception for" not in client.get(reverse("evaluation:finding_list")).content.decode()  # no rule chosen


def test_the_api_takes_ids_with_the_same_checks_and_lists_every_refusal(grc_lead, world):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(grc_lead)
    body = {
        "title": "",
        "rule_ids": [MFA],
        "scope": {"identity_ids": [world["alice"].pk]},
        "justification": "vendor",
        "compensating_controls": "IP allow-list",
        "risk": "low",
        "owner": grc_lead.username,
        "expires_on": (TODAY + dt.timedelta(days=30)).isoformat(),
    }
    refused = api.post(
        reverse("api:exception-list"), {**body, "title": "Root key"} | {"scope": {"credential_ids": [world["other"].pk]}}, format="json"
    )
    assert refused.status_code == 400
    assert [e.partition(":")[0] for e in refused.json()["errors"]] == ["Risk reason", "Scope"]
    created = api.post(reverse("api:exception-list"), {**body, "title": "Root key", "risk_reason": "sandbox only"}, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["risk_reason"] == "sandbox only" and created.json()["risk"] == "low"
