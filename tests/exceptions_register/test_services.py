"""The exception workflow: transitions, separation of duties, scope matching, expiry,
reminders and renewals — and their effect on evaluations."""

import datetime as dt

import pytest
import time_machine
from django.core import mail

from apps.accounts.roles import Role
from apps.audit.models import AuditEvent
from apps.core.errors import IllegalTransition, PermissionRefused, ValidationFailed
from apps.devtools.simulators.inventory import seed_inventory
from apps.evaluation.models import Finding
from apps.evaluation.services import evaluation_run
from apps.exceptions_register import services as S
from apps.exceptions_register.models import ExceptionReminder, ExceptionRequest
from apps.inventory.models import Credential
from tests.factories import make_user

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 1, 12, tzinfo=dt.UTC)


@pytest.fixture
def approver2(db):
    return make_user(Role.APPROVER, username="approver2", email="a2@example.test")


@pytest.fixture
def people(grc_lead, approver, reviewer, approver2):
    for u in (grc_lead, approver, reviewer):
        u.email = f"{u.username}@example.test"
        u.save()
    return {"grc": grc_lead, "approver": approver, "reviewer": reviewer, "approver2": approver2}


@pytest.fixture
def world(catalog, people):
    seed_inventory(credentials=200, seed=11, now=NOW - dt.timedelta(hours=1), actor=people["grc"])
    return people


def _failing_key(rule="iam-key-rotation-age"):
    evaluation = evaluation_run(now=NOW)
    finding = Finding.objects.filter(evaluation=evaluation, rule_id=rule, status="fail").select_related("credential").first()
    return evaluation, finding.credential


def _request(actor, owner, scope, *, risk="medium", days=60, rules=("iam-key-rotation-age",), **kw):
    with time_machine.travel(NOW, tick=False):
        return S.exception_request(
            actor=actor,
            title="Legacy integration",
            rule_ids=list(rules),
            scope=scope,
            justification="Vendor cannot rotate until Q1",
            compensating_controls="IP allow-list; alerting",
            risk=risk,
            owner=owner,
            expires_on=NOW.date() + dt.timedelta(days=days),
            **kw,
        )


def test_request_approve_and_the_finding_becomes_excepted(world):
    _, key = _failing_key()
    outcome = _request(world["reviewer"], world["reviewer"], {"credential_ids": [key.pk]})
    exc = outcome.exception
    assert exc.state == "pending" and exc.required_approvals == 1 and outcome.warnings == []
    with time_machine.travel(NOW, tick=False):
        S.exception_approve(actor=world["approver"], exception=exc, comment="accepted until vendor upgrade")
    exc.refresh_from_db()
    assert exc.state == "approved"
    evaluation = evaluation_run(now=NOW)
    finding = Finding.objects.get(evaluation=evaluation, rule_id="iam-key-rotation-age", credential=key)
    assert finding.status == "excepted" and finding.exception_id == exc.pk
    # Precise scope: the same user's other key, and other keys, still fail.
    others = Finding.objects.filter(evaluation=evaluation, rule_id="iam-key-rotation-age").exclude(credential=key)
    assert others.exists() and set(others.values_list("status", flat=True)) == {"fail"}
    # Another rule on the same credential is not excused either.
    assert (
        not Finding.objects.filter(evaluation=evaluation, credential=key, status="excepted")
        .exclude(rule_id="iam-key-rotation-age")
        .exists()
    )
    types = list(AuditEvent.objects.filter(target_type="exceptions_register.exceptionrequest").values_list("event_type", flat=True))
    assert "exception.requested" in types and "exception.approval_given" in types and "exception.approved" in types


def test_a_rotated_key_is_a_new_credential_and_is_not_excused(world):
    _, key = _failing_key()
    exc = _request(world["reviewer"], world["reviewer"], {"credential_ids": [key.pk]}).exception
    with time_machine.travel(NOW, tick=False):
        S.exception_approve(actor=world["approver"], exception=exc, comment="ok")
    from apps.evaluation.rules.base import CredentialFacts
    from apps.exceptions_register.matching import matcher_for

    matcher = matcher_for(NOW)
    facts = CredentialFacts(
        key.pk + 10_000_000,
        key.source_id,
        key.scope,
        "access_key",
        "AKIANEW",
        "new",
        "iam-user-key",
        True,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        "",
        {},
        {},
        None,
    )
    assert matcher.match("iam-key-rotation-age", facts) is None


@pytest.mark.parametrize("who", ["requester", "owner"])
def test_separation_of_duties(world, who):
    _, key = _failing_key()
    exc = _request(world["approver"], world["approver2"], {"credential_ids": [key.pk]}).exception
    actor = world["approver"] if who == "requester" else world["approver2"]
    with pytest.raises(PermissionRefused):
        S.exception_approve(actor=actor, exception=exc, comment="self")
    exc.refresh_from_db()
    assert exc.state == "pending" and not exc.decisions.exists()


def test_high_risk_needs_two_different_approvers(world):
    _, key = _failing_key()
    exc = _request(world["grc"], world["grc"], {"credential_ids": [key.pk]}, risk="high").exception
    assert exc.required_approvals == 2
    with time_machine.travel(NOW, tick=False):
        S.exception_approve(actor=world["approver"], exception=exc, comment="first")
        exc.refresh_from_db()
        assert exc.state == "pending"
        with pytest.raises(IllegalTransition, match="already decided"):
            S.exception_approve(actor=world["approver"], exception=exc, comment="again")
        S.exception_approve(actor=world["approver2"], exception=exc, comment="second")
    exc.refresh_from_db()
    assert exc.state == "approved" and exc.decisions.count() == 2


def test_illegal_transitions_are_refused_with_a_clear_message(world):
    _, key = _failing_key()
    exc = _request(world["grc"], world["grc"], {"credential_ids": [key.pk]}).exception
    with time_machine.travel(NOW, tick=False):
        S.exception_reject(actor=world["approver"], exception=exc, comment="no compensating control")
        with pytest.raises(IllegalTransition, match="rejected; it cannot be decided"):
            S.exception_approve(actor=world["approver2"], exception=exc, comment="late")
    with pytest.raises(IllegalTransition, match="cannot be revoked"):
        S.exception_revoke(actor=world["grc"], exception=exc, comment="x")


@pytest.mark.parametrize(
    "change, message",
    [
        ({"days": 0}, "future date"),
        ({"days": -3}, "future date"),
        ({"days": 181}, "at most 180 days"),
        ({"days": 31, "risk": "critical"}, "at most 30 days"),
        ({"rules": ()}, "at least one rule"),
        ({"rules": ("no-such-rule",)}, "unknown rule"),
    ],
)
def test_bad_requests_are_refused_and_create_nothing(world, change, message):
    _, key = _failing_key()
    days, risk, rules = change.get("days", 60), change.get("risk", "medium"), change.get("rules", ("iam-key-rotation-age",))
    with pytest.raises(ValidationFailed, match=message):
        _request(world["grc"], world["grc"], {"credential_ids": [key.pk]}, days=days, risk=risk, rules=rules)
    assert not ExceptionRequest.objects.exists()


def test_empty_justification_and_broad_scope(world):
    with time_machine.travel(NOW, tick=False):
        with pytest.raises(ValidationFailed, match="Justification"):
            S.exception_request(
                actor=world["grc"],
                title="t",
                rule_ids=["kv-secret-no-expiry"],
                scope={"source_ids": [1]},
                justification="  ",
                compensating_controls="c",
                risk="low",
                owner=world["grc"],
                expires_on=NOW.date() + dt.timedelta(days=10),
            )
    with pytest.raises(ValidationFailed, match="empty scope"):
        _request(world["grc"], world["grc"], {})
    broad = _request(world["grc"], world["grc"], {}, confirm_broad=True).exception
    assert broad.scope_is_broad
    nothing = _request(world["grc"], world["grc"], {"credential_ids": [99999999]})
    assert "matches no present" in nothing.warnings[0]


def test_approving_a_request_whose_date_passed_is_refused(world):
    _, key = _failing_key()
    exc = _request(world["grc"], world["grc"], {"credential_ids": [key.pk]}, days=3).exception
    with time_machine.travel(NOW + dt.timedelta(days=5), tick=False):
        with pytest.raises(IllegalTransition, match="already have expired"):
            S.exception_approve(actor=world["approver"], exception=exc, comment="late")


def test_expiry_makes_findings_fail_again_even_without_the_scheduler(world):
    _, key = _failing_key()
    exc = _request(world["reviewer"], world["reviewer"], {"credential_ids": [key.pk]}, days=10).exception
    with time_machine.travel(NOW, tick=False):
        S.exception_approve(actor=world["approver"], exception=exc, comment="ok")
    later = NOW + dt.timedelta(days=11)
    evaluation = evaluation_run(now=later)  # the evaluation expires what is due before matching
    exc.refresh_from_db()
    assert exc.state == "expired"
    assert Finding.objects.get(evaluation=evaluation, rule_id="iam-key-rotation-age", credential=key).status == "fail"
    assert AuditEvent.objects.filter(event_type="exception.expired", target_id=str(exc.pk)).exists()


def test_revocation_makes_findings_fail_again(world):
    _, key = _failing_key()
    exc = _request(world["reviewer"], world["reviewer"], {"identity_ids": [key.identity_id]}).exception
    with time_machine.travel(NOW, tick=False):
        S.exception_approve(actor=world["approver"], exception=exc, comment="ok")
    evaluation = evaluation_run(now=NOW)
    assert Finding.objects.get(evaluation=evaluation, rule_id="iam-key-rotation-age", credential=key).status == "excepted"
    S.exception_revoke(actor=world["grc"], exception=exc, comment="compensating control removed")
    evaluation = evaluation_run(now=NOW)
    assert Finding.objects.get(evaluation=evaluation, rule_id="iam-key-rotation-age", credential=key).status == "fail"


def test_tag_and_source_scopes(world):
    key = Credential.objects.filter(credential_type="access_key", tags__has_key="request-ref").first()
    tag = {"key": "request-ref", "value": key.tags["request-ref"]}
    exc = _request(world["grc"], world["grc"], {"tag": tag}, rules=("iam-key-unused", "iam-key-rotation-age")).exception
    with time_machine.travel(NOW, tick=False):
        S.exception_approve(actor=world["approver"], exception=exc, comment="ok")
    evaluation = evaluation_run(now=NOW)
    excepted = Finding.objects.filter(evaluation=evaluation, status="excepted")
    assert set(excepted.values_list("credential_id", flat=True)) <= {key.pk}


def test_reminders_are_sent_once_at_each_mark(world, django_capture_on_commit_callbacks):
    _, key = _failing_key()
    exc = _request(world["reviewer"], world["grc"], {"credential_ids": [key.pk]}, days=40).exception
    with time_machine.travel(NOW, tick=False):
        S.exception_approve(actor=world["approver"], exception=exc, comment="ok")
    expires = exc.expires_on
    for days_before, sent in ((31, 0), (30, 1), (29, 0), (7, 1), (1, 1)):  # the 30-day mark is not re-sent on day 29
        # The e-mails go out after commit (apps.notifications), on the day they are due.
        with time_machine.travel(dt.datetime.combine(expires - dt.timedelta(days=days_before), dt.time(8), tzinfo=dt.UTC), tick=False):
            with django_capture_on_commit_callbacks(execute=True):
                assert S.exception_send_reminders() == sent
    assert sorted(ExceptionReminder.objects.values_list("days_before", flat=True)) == [1, 7, 30]
    # One e-mail per person: the owner and the requester, at each of the three marks.
    assert len(mail.outbox) == 6 and {m.to[0] for m in mail.outbox} == {"grc@example.test", "reviewer@example.test"}
    assert "expires in 30 days" in mail.outbox[0].subject


def test_renewal_goes_through_approval_again_and_keeps_the_chain(world):
    _, key = _failing_key()
    exc = _request(world["reviewer"], world["reviewer"], {"credential_ids": [key.pk]}, days=20).exception
    with time_machine.travel(NOW, tick=False):
        S.exception_approve(actor=world["approver"], exception=exc, comment="ok")
        renewal = S.exception_renew(
            actor=world["reviewer"], exception=exc, expires_on=NOW.date() + dt.timedelta(days=90), justification="vendor slipped to Q2"
        ).exception
        assert renewal.state == "pending" and renewal.renewal_of == exc and renewal.scope == exc.scope
        with pytest.raises(IllegalTransition, match="already has a renewal"):
            S.exception_renew(actor=world["reviewer"], exception=exc, expires_on=NOW.date() + dt.timedelta(days=90), justification="x")
        S.exception_approve(actor=world["approver2"], exception=renewal, comment="ok again")
    assert list(exc.renewals.values_list("state", flat=True)) == ["approved"]


def test_close_by_owner(world):
    _, key = _failing_key()
    exc = _request(world["reviewer"], world["grc"], {"credential_ids": [key.pk]}).exception
    with time_machine.travel(NOW, tick=False):
        S.exception_approve(actor=world["approver"], exception=exc, comment="ok")
    with pytest.raises(PermissionRefused):
        S.exception_close(actor=make_user(Role.REVIEWER, username="stranger"), exception=exc)
    S.exception_close(actor=world["grc"], exception=exc, comment="key rotated")
    exc.refresh_from_db()
    assert exc.state == "closed" and exc.ended_at is not None
