"""The posture pages: dashboard, a sub-requirement, rules, findings, evaluations, policy, and
the rules' verdicts on a credential's page.

Evaluations, rule results, statuses and findings are made with the ORM (what an evaluation
would have written). The registry is pointed at small rules written here, so what is under
test is what the pages show and who may see or act, not what the real rules decide.
"""

import datetime as dt
import re

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone
from guardian.shortcuts import assign_perm

from apps.audit.models import AuditEvent
from apps.evaluation import charts
from apps.evaluation.models import Evaluation, Finding, PolicyVersion, RequirementStatus, RuleResult
from apps.evaluation.rules import registry
from apps.evaluation.rules.base import Rule, days_between, failed, not_assessed, passed
from apps.evaluation.services import policy_current
from apps.inventory.models import Credential, Identity, Source
from tests.factories import (
    CollectionRunFactory,
    CollectionUnitFactory,
    CredentialFactory,
    EvaluationFactory,
    FindingFactory,
    IdentityFactory,
    SnapshotFactory,
    SourceFactory,
)

pytestmark = pytest.mark.django_db

NOW = timezone.now()
OLD = NOW - dt.timedelta(days=400)
HOSTILE = "<script>alert('reason')</script>\u202eexe.txt <img src=x onerror=alert(1)>"


# --- rules written for the test --------------------------------------------------------------


class KeyAge(Rule):
    id, title, severity, subject = "iam-key-rotation-age", "Access keys rotated within the class limit", "high", "credential"
    requirements, scope_kind = ("9.2.4.08",), "aws_iam"
    explanation = "An access key older than the rotation limit of its class fails."

    def applies(self, c):
        return c.credential_type == "access_key"

    def evaluate(self, c, ctx):
        if c.created_at is None:
            return not_assessed("the key's creation time is unknown")
        age, limit = days_between(c.last_rotated_at or c.created_at, ctx.now), ctx.policy.rotation_limit(c.credential_class)
        if age > limit:
            return failed(f"key is {age} days old; {c.credential_class} keys rotate within {limit} days", age_days=age, limit_days=limit)
        return passed(f"key is {age} days old", age_days=age, limit_days=limit)


class TwoActive(Rule):
    id, title, severity, subject = "iam-key-two-active", "At most one active key per user", "medium", "credential"
    requirements, scope_kind = ("9.2.4.08",), "aws_iam"
    explanation = "Uses the identity's present keys."

    def applies(self, c):
        return c.credential_type == "access_key" and c.identity is not None

    def evaluate(self, c, ctx):
        active = [k.name for k in c.identity.credentials if k.credential_type == "access_key" and k.enabled]
        if len(active) > 1:
            return failed(f"{c.identity.name} has {len(active)} active keys", keys=active)
        return passed("one active key", keys=active)


class Boom(Rule):
    id, title, severity, subject = "iam-key-unused", "Keys used recently", "medium", "credential"
    requirements, scope_kind = ("9.2.4.12",), "aws_iam"

    def applies(self, c):
        return c.credential_type == "access_key"

    def evaluate(self, c, ctx):
        raise ValueError("<b>cannot</b> compare")


class NoMfa(Rule):
    id, title, severity, subject = "console-password-no-mfa", "Console users have MFA", "high", "identity"
    requirements, scope_kind = ("9.3.1.06",), "aws_iam"

    def evaluate(self, i, ctx):
        return failed("no MFA") if i.mfa_active is False else passed("MFA")


class Coverage(Rule):
    id, title, severity, subject = "source-coverage", "Every source collected on time", "medium", "source"
    requirements = ("9.2.4.02", "9.2.4.18")

    def evaluate(self, s, ctx):
        return passed("collected")


TEST_RULES = {cls.id: f"{__name__}.{cls.__name__}" for cls in (KeyAge, TwoActive, Boom, NoMfa, Coverage)}
REAL_RULES = dict(registry.RULES)


@pytest.fixture(autouse=True)
def rules(monkeypatch):
    monkeypatch.setattr(registry, "RULES", dict(TEST_RULES))
    registry.get_rule.cache_clear()
    yield registry.RULES
    registry.get_rule.cache_clear()


# --- rows ------------------------------------------------------------------------------------


def _source(name, user, **kw):
    values = {"kind": Source.Kind.AWS_ACCOUNT, "aws_account_id": "123456789012", "role_arn": f"arn:aws:iam::123456789012:role/{name}"}
    values.update(kw)
    return SourceFactory(name=name, created_by=user, **values)


def _snapshot(source, scope, user):
    run = CollectionRunFactory(status="succeeded", requested_by=user, started_at=NOW, finished_at=NOW)
    unit = CollectionUnitFactory(run=run, source=source, connector=scope.split(":")[0], scope=scope, status="succeeded", finished_at=NOW)
    return SnapshotFactory(unit=unit, source=source, scope=scope, taken_at=NOW, content_sha256="a" * 64)


def _evaluation(policy, statuses: dict[str, str] | None = None, *, catalog, as_of=NOW, **counts):
    """A succeeded evaluation with a status for every requirement (pass unless ``statuses`` says otherwise)."""
    evaluation = EvaluationFactory(
        state="succeeded",
        policy_version=policy,
        as_of=as_of,
        finished_at=as_of,
        counts={"credentials": 3, "identities": 1, "sources": 2, "failed": 2, "excepted": 1, "not_assessed": 1, "seconds": 0.2, **counts},
    )
    Evaluation.objects.filter(pk=evaluation.pk).update(started_at=as_of)  # the newest is the one started last
    statuses = statuses or {}
    RequirementStatus.objects.bulk_create(
        [
            RequirementStatus(
                evaluation=evaluation,
                requirement=r,
                # Tested by rules: pass; tested by none: what the (absent) manual evidence shows.
                status=statuses.get(r.ref, "pass" if any(i in TEST_RULES for i in r.rule_ids) else "evidence_missing"),
                population=10 if r.rule_ids else 0,
                failed=2 if statuses.get(r.ref) == "fail" else 0,
                rule_ids=[i for i in r.rule_ids if i in TEST_RULES],
            )
            for r in catalog
        ]
    )
    return evaluation


@pytest.fixture
def posture(grc_lead, catalog):
    """Two sources (an AWS account, a vault); a key too old, a second key, an identity without
    MFA; an older evaluation and the latest with rule results and findings."""
    prod = _source("prod", grc_lead)
    vault = _source(
        "vault", grc_lead, kind=Source.Kind.AZURE_KEY_VAULT, aws_account_id="", role_arn="", vault_url="https://kv.vault.azure.net/"
    )
    snap = _snapshot(prod, "aws_iam", grc_lead)
    kv_snap = _snapshot(vault, "azure_key_vault:https://kv.vault.azure.net/", grc_lead)
    alice = IdentityFactory(
        source=prod,
        scope="aws_iam",
        external_id="arn:aws:iam::123456789012:user/alice",
        name="alice",
        kind=Identity.Kind.HUMAN,
        mfa_active=False,
        fingerprint="f",
        first_seen_at=OLD,
    )
    key = CredentialFactory(
        source=prod,
        scope="aws_iam",
        external_id="AKIAOLD",
        credential_type=Credential.Type.ACCESS_KEY,
        name="AKIAOLD",
        identity=alice,
        enabled=True,
        created_at=OLD,
        fingerprint="f",
        first_seen_at=OLD,
    )
    key2 = CredentialFactory(
        source=prod,
        scope="aws_iam",
        external_id="AKIANEW",
        credential_type=Credential.Type.ACCESS_KEY,
        name="AKIANEW",
        identity=alice,
        enabled=True,
        created_at=NOW - dt.timedelta(days=3),
        fingerprint="f",
        first_seen_at=NOW,
    )
    secret = CredentialFactory(
        source=vault,
        scope="azure_key_vault:https://kv.vault.azure.net/",
        external_id="https://kv.vault.azure.net/secrets/db",
        credential_type=Credential.Type.KV_SECRET,
        name="kv-db-secret",
        enabled=True,
        fingerprint="f",
        first_seen_at=OLD,
    )
    policy = policy_current()
    older = _evaluation(policy, {"9.2.4.08": "fail", "9.3.1.06": "pass"}, catalog=catalog, as_of=NOW - dt.timedelta(days=7))
    latest = _evaluation(policy, {"9.2.4.08": "fail", "9.3.1.06": "fail", "9.2.4.12": "not_assessed"}, catalog=catalog)
    RuleResult.objects.bulk_create(
        [
            RuleResult(
                evaluation=latest, rule_id="iam-key-rotation-age", severity="high", status="fail", population=2, failed=1, excepted=0
            ),
            RuleResult(evaluation=latest, rule_id="iam-key-two-active", severity="medium", status="fail", population=2, failed=2),
            RuleResult(
                evaluation=latest,
                rule_id="iam-key-unused",
                severity="medium",
                status="excepted",
                population=2,
                excepted=1,
                covered=False,
                note="vault <b>late</b>",
            ),
            RuleResult(evaluation=latest, rule_id="console-password-no-mfa", severity="high", status="fail", population=1, failed=1),
        ]
    )
    common = {"evaluation": latest}
    findings = {
        "key_age": FindingFactory(
            **common,
            rule_id="iam-key-rotation-age",
            status="fail",
            severity="high",
            subject_type="credential",
            source=prod,
            credential=key,
            identity=alice,
            snapshot=snap,
            subject_label="AKIAOLD",
            reason=HOSTILE,
            data={"age_days": 400},
        ),
        "unused": FindingFactory(
            **common,
            rule_id="iam-key-unused",
            status="excepted",
            severity="medium",
            subject_type="credential",
            source=prod,
            credential=key,
            identity=alice,
            snapshot=snap,
            subject_label="AKIAOLD",
            reason="unused for 200 days",
            exception_id=42,
        ),
        "mfa": FindingFactory(
            **common,
            rule_id="console-password-no-mfa",
            status="fail",
            severity="high",
            subject_type="identity",
            source=prod,
            identity=alice,
            snapshot=snap,
            subject_label="alice",
            reason="alice signs in without MFA",
        ),
        "vault": FindingFactory(
            **common,
            rule_id="iam-key-rotation-age",
            status="not_assessed",
            severity="high",
            subject_type="credential",
            source=vault,
            credential=secret,
            snapshot=kv_snap,
            subject_label="kv-db-secret",
            reason="vault secret judged by the wrong rule",
        ),
        "coverage": FindingFactory(
            **common,
            rule_id="source-coverage",
            status="not_assessed",
            severity="medium",
            subject_type="source",
            source=vault,
            subject_label="vault",
            reason="never collected",
        ),
    }
    return {
        "prod": prod,
        "vault": vault,
        "alice": alice,
        "key": key,
        "key2": key2,
        "secret": secret,
        "snap": snap,
        "policy": policy,
        "older": older,
        "latest": latest,
        "findings": findings,
    }


def _body(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def _page(body: str) -> str:
    return body.split("</head>", 1)[1]


PAGES = [
    ("evaluation:dashboard", {}),
    ("evaluation:requirement", {"ref": "9.2.4.08"}),
    ("evaluation:requirement_status", {"ref": "9.2.4.08"}),
    ("evaluation:rule_list", {}),
    ("evaluation:finding_list", {}),
    ("evaluation:evaluation_list", {}),
    ("evaluation:policy", {}),
]


# --- every page, as the GRC lead ---------------------------------------------------------


def test_every_page_renders_for_the_grc_lead(client, grc_lead, posture):
    client.force_login(grc_lead)
    latest, key = posture["latest"], posture["key"]

    dash = _body(client.get(reverse("evaluation:dashboard")))
    assert ">Posture</a>" in dash and "Evaluate now" in dash
    assert f"Evaluation #{latest.pk} of" in dash and "policy <a" in dash and ">v1</a>" in dash
    assert "9.2.4.08" in dash and "9.3.1.09" in dash and "Scheduled rotation by credential class" in dash
    assert "Evidence missing" in dash  # 9.2.4.01: no rule tests it, no control holds evidence for it
    assert dash.count('<svg class="chart trend"') == 28 and '<svg class="chart posture"' in dash
    assert f"#{posture['older'].pk} · " in dash  # the older evaluation is in the trend's tooltips
    reqs = re.search(r"<code>9\.2\.4\.08</code></a></td>(.*?)</tr>", dash, re.S).group(1)
    assert "status-fail" in reqs and '<span class="bad">2</span>' in reqs

    page = _body(client.get(reverse("evaluation:requirement", args=["9.2.4.08"])))
    assert "Access keys rotated within the class limit" in page and "An access key older than the rotation limit" in page
    assert "iam-key-two-active" in page and "sm-rotation-disabled" in page  # catalog rules, also those that did not run
    assert "not run in evaluation" in page
    assert f'href="{reverse("inventory:credential_detail", args=[key.pk])}"' in page
    assert "&lt;script&gt;alert(&#x27;reason&#x27;)&lt;/script&gt;" in page and "<script>alert" not in page
    assert "kv-db-secret" in page  # the GRC lead views every source
    assert "Controls implementing it" in page

    mfa = _body(client.get(reverse("evaluation:requirement", args=["9.3.1.06"])))
    assert f'href="{reverse("inventory:identity_detail", args=[posture["alice"].pk])}"' in mfa and "alice signs in without MFA" in mfa

    coverage = _body(client.get(reverse("evaluation:requirement", args=["9.2.4.02"])))
    assert f'href="{reverse("inventory:source_detail", args=[posture["vault"].pk])}"' in coverage and "never collected" in coverage

    manual = _body(client.get(reverse("evaluation:requirement", args=["9.2.4.01"])))
    assert "Evidence missing" in manual and "No automated rule tests this requirement" in manual

    rules = _body(client.get(reverse("evaluation:rule_list")))
    for rule_id in TEST_RULES:
        assert f"<code>{rule_id}</code>" in rules
    assert "Console users have MFA" in rules and "not evaluated yet" in rules  # source-coverage has no result

    findings = _body(client.get(reverse("evaluation:finding_list")))
    assert "AKIAOLD" in findings and "alice" in findings and "exception #42" in findings and "kv-db-secret" in findings

    evaluations = _body(client.get(reverse("evaluation:evaluation_list")))
    assert f"?evaluation={latest.pk}" in evaluations and f"?evaluation={posture['older'].pk}" in evaluations

    policy = _body(client.get(reverse("evaluation:policy")))
    assert "Version 1 in force" in policy and "iam-user-key" in policy and "database: tag class=database" in policy
    assert "Change the policy" in policy

    form = _body(client.get(reverse("evaluation:policy_edit")))
    assert 'name="rotation_iam_user_key" value="90"' in form and 'name="comment"' in form
    assert "database: name *db*" in form

    status = _body(client.get(reverse("evaluation:requirement_status", args=["9.2.4.08"])))
    assert "<html" not in status and "status-fail" in status and "10 tested" in status

    catalog = _body(client.get(reverse("catalog:detail", args=["9.2.4.08"])))
    assert f'hx-get="{reverse("evaluation:requirement_status", args=["9.2.4.08"])}"' in catalog
    assert f'href="{reverse("evaluation:requirement", args=["9.2.4.08"])}"' in catalog


def test_the_findings_of_another_evaluation_and_the_filters(client, grc_lead, posture):
    client.force_login(grc_lead)
    url = reverse("evaluation:finding_list")

    def subjects(**params):
        return sorted((f.rule_id, f.subject_label) for f in client.get(url, params).context["page"])

    assert subjects(rule="console-password-no-mfa") == [("console-password-no-mfa", "alice")]
    assert subjects(status="excepted") == [("iam-key-unused", "AKIAOLD")]
    assert subjects(severity="high", status="fail") == [("console-password-no-mfa", "alice"), ("iam-key-rotation-age", "AKIAOLD")]
    assert subjects(source=str(posture["vault"].pk)) == [("iam-key-rotation-age", "kv-db-secret"), ("source-coverage", "vault")]
    assert subjects(q="akiaold") == [("iam-key-rotation-age", "AKIAOLD"), ("iam-key-unused", "AKIAOLD")]
    assert subjects(status="junk", page="99") == subjects()
    assert subjects(evaluation=str(posture["older"].pk)) == []  # the older one stored none
    assert client.get(url, {"evaluation": "999999"}).status_code == 404
    partial = _body(client.get(url, {"q": "alice"}, HTTP_HX_REQUEST="true"))
    assert "<html" not in partial and "alice" in partial

    page = client.get(reverse("evaluation:requirement", args=["9.2.4.08"]), {"rule": "iam-key-rotation-age", "status": "not_assessed"})
    assert [f.subject_label for f in page.context["page"]] == ["kv-db-secret"]
    page = client.get(reverse("evaluation:requirement", args=["9.2.4.08"]), {"rule": "console-password-no-mfa"})  # not a rule of 9.2.4.08
    assert page.context["filters"]["rule"] == "" and page.context["page"].paginator.count == 2


def test_the_requirements_findings_are_paginated_by_50(client, grc_lead, posture):
    latest, prod = posture["latest"], posture["prod"]
    Finding.objects.bulk_create(
        [
            Finding(
                evaluation=latest,
                rule_id="iam-key-two-active",
                status="fail",
                severity="medium",
                subject_type="credential",
                source=prod,
                credential=posture["key2"],
                subject_label=f"key-{n}",
                reason="two active keys",
            )
            for n in range(70)
        ]
    )
    client.force_login(grc_lead)
    first = client.get(reverse("evaluation:requirement", args=["9.2.4.08"]))
    assert len(first.context["page"]) == 50 and first.context["page"].paginator.count == 72
    second = _body(client.get(reverse("evaluation:requirement", args=["9.2.4.08"]), {"page": 2, "rule": "iam-key-two-active"}))
    assert ">key-69<" in second and ">key-50<" in second and ">key-49<" not in second
    assert "rule=iam-key-two-active&amp;page=1" in second  # the pager keeps the filter


# --- who sees what ---------------------------------------------------------------------


def test_the_approver_views_but_may_neither_evaluate_nor_change_the_policy(client, approver, posture):
    client.force_login(approver)
    for name, kwargs in PAGES:
        body = _body(client.get(reverse(name, kwargs=kwargs)))
        assert "Evaluate now" not in body and "Change the policy" not in body, name
    evaluations, versions = Evaluation.objects.count(), PolicyVersion.objects.count()
    denied = AuditEvent.objects.filter(event_type="access.denied").count()
    assert client.post(reverse("evaluation:evaluate")).status_code == 403
    assert client.get(reverse("evaluation:policy_edit")).status_code == 403
    assert client.post(reverse("evaluation:policy_edit"), {**_valid_post(), "unused_days": 60}).status_code == 403
    assert Evaluation.objects.count() == evaluations and PolicyVersion.objects.count() == versions
    assert AuditEvent.objects.filter(event_type="access.denied").count() == denied + 3
    cred = _body(client.get(reverse("inventory:credential_detail", args=[posture["key"].pk])))
    assert "Rule verdicts" in cred  # approvers read posture


@pytest.mark.parametrize("persona", ["reviewer", "auditor"])
def test_reviewers_and_auditors_are_refused_every_posture_page(client, request, posture, persona):
    user = request.getfixturevalue(persona)
    assign_perm("view_source", user, posture["prod"])  # even with the inventory of a source shared
    client.force_login(user)
    for name, kwargs in PAGES + [("evaluation:policy_edit", {})]:
        assert client.get(reverse(name, kwargs=kwargs)).status_code == 403, name
    assert client.post(reverse("evaluation:evaluate")).status_code == 403
    denial = AuditEvent.objects.filter(event_type="access.denied").order_by("-seq").first()
    assert denial.actor == user and denial.changes["permission"] == "evaluation.run_evaluation"
    cred = _body(client.get(reverse("inventory:credential_detail", args=[posture["key"].pk])))
    assert "Rule verdicts" not in cred and ">Posture</a>" not in cred  # no panel, no nav link
    catalog = _body(client.get(reverse("catalog:detail", args=["9.2.4.08"])))
    assert "evaluation:requirement_status" not in catalog and "/posture/" not in catalog


def test_a_finding_about_a_source_one_may_not_view_is_not_shown(client, auditor, posture):
    # An auditor given posture (by a direct permission) and the inventory of one source only.
    auditor.user_permissions.add(Permission.objects.get(codename="view_evaluation", content_type__app_label="evaluation"))
    assign_perm("view_source", auditor, posture["prod"])
    client.force_login(auditor)
    findings = client.get(reverse("evaluation:finding_list"))
    assert sorted(f.subject_label for f in findings.context["page"]) == ["AKIAOLD", "AKIAOLD", "alice"]
    body = _body(findings)
    assert "kv-db-secret" not in body and "never collected" not in body and "about the sources you can view" in body
    assert [s.name for s in findings.context["sources"]] == ["prod"]
    assert client.get(reverse("evaluation:finding_list"), {"source": str(posture["vault"].pk)}).context["page"].paginator.count == 0
    page = _body(client.get(reverse("evaluation:requirement", args=["9.2.4.08"])))
    assert "AKIAOLD" in page and "kv-db-secret" not in page and "vault secret judged" not in page
    coverage = _body(client.get(reverse("evaluation:requirement", args=["9.2.4.02"])))
    assert "never collected" not in coverage


# --- evaluate now --------------------------------------------------------------------------


def test_evaluate_now_queues_an_evaluation_and_returns_at_once(client, grc_lead, posture, django_capture_on_commit_callbacks):
    client.force_login(grc_lead)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = client.post(reverse("evaluation:evaluate"))
    assert response.status_code == 302 and response["Location"] == reverse("evaluation:dashboard")
    evaluation = Evaluation.objects.order_by("-pk").first()
    # Returned before any work: the evaluation waits for a worker, and the page says so.
    assert len(queued) == 1 and evaluation.state == "running" and evaluation.progress["phase"] == "queued"
    dash = _body(client.get(response["Location"]))
    assert f"Evaluation #{evaluation.pk} started" in dash and f"Evaluation #{evaluation.pk} is queued" in dash
    assert "waiting for a worker" in dash and 'hx-trigger="every 2s"' in dash
    assert "Evaluation running…" in dash and "disabled" in dash  # no second click while it runs
    queued[0]()  # the worker takes it up (Celery is eager in tests)
    evaluation.refresh_from_db()
    assert evaluation.state == "succeeded" and evaluation.requested_by == grc_lead and evaluation.trigger == "manual"
    dash = _body(client.get(response["Location"]))
    assert f"Evaluation #{evaluation.pk} of" in dash and "Evaluate now" in dash and "Evaluation running…" not in dash
    assert AuditEvent.objects.filter(event_type="evaluation.completed", actor=grc_lead).exists()


def test_a_failed_evaluation_is_reported_not_a_server_error(client, grc_lead, posture, rules, django_capture_on_commit_callbacks):
    rules["iam-key-rotation-age"] = "tests.evaluation.no_such_module.Rule"
    client.force_login(grc_lead)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("evaluation:evaluate"))
    assert response.status_code == 302
    failed_run = Evaluation.objects.order_by("-pk").first()
    assert failed_run.state == "failed" and "ModuleNotFoundError" in failed_run.error
    dash = _body(client.get(reverse("evaluation:dashboard")))
    assert (
        f"The latest evaluation, #{failed_run.pk}" in dash and f"Evaluation #{posture['latest'].pk} of" in dash
    )  # still shows the last good one
    rules_page = _body(client.get(reverse("evaluation:rule_list")))
    assert "the rule could not be loaded: ModuleNotFoundError" in rules_page
    cred = _body(client.get(reverse("inventory:credential_detail", args=[posture["key"].pk])))
    assert "Rule verdicts" in cred and "the rule could not be loaded" in cred  # the page still renders


def test_the_dashboard_says_when_nothing_was_evaluated(client, grc_lead, catalog):
    client.force_login(grc_lead)
    body = _body(client.get(reverse("evaluation:dashboard")))
    assert "No evaluation has succeeded yet" in body and "Evaluate now" in body
    for name in ("evaluation:finding_list", "evaluation:rule_list", "evaluation:evaluation_list", "evaluation:policy"):
        _body(client.get(reverse(name)))
    assert "No evaluation has succeeded yet" in _body(client.get(reverse("evaluation:requirement", args=["9.2.4.08"])))
    assert "defaults from the source guidance are in force" in _body(client.get(reverse("evaluation:policy")))
    assert not PolicyVersion.objects.exists()  # reading never writes


# --- credential verdicts -------------------------------------------------------------------


def test_the_credential_page_shows_live_verdicts_and_stored_findings(client, grc_lead, posture):
    client.force_login(grc_lead)
    response = client.get(reverse("inventory:credential_detail", args=[posture["key"].pk]))
    body = _body(response)
    verdicts = response.context["verdicts"]
    by_rule = {v.rule.id: v for v in verdicts.verdicts}
    assert set(by_rule) == {"iam-key-rotation-age", "iam-key-two-active", "iam-key-unused"}  # credential rules only
    age = by_rule["iam-key-rotation-age"]
    assert age.status == "fail" and age.reason == "key is 400 days old; iam-user-key keys rotate within 90 days"
    assert ("age_days", "400") in age.data and ("limit_days", "90") in age.data
    assert age.snapshot == posture["snap"] and age.snapshot_is_findings
    two = by_rule["iam-key-two-active"]
    assert two.status == "fail" and two.reason == "alice has 2 active keys"  # judged with the identity's present keys
    assert '["AKIANEW", "AKIAOLD"]' in dict(two.data)["keys"] or '["AKIAOLD", "AKIANEW"]' in dict(two.data)["keys"]
    assert by_rule["iam-key-unused"].status == "not_assessed" and "&lt;b&gt;cannot&lt;/b&gt; compare" in body
    assert verdicts.policy_version == posture["policy"] and verdicts.evaluation == posture["latest"]
    section = body.split('id="verdicts"')[1].split("</section>")[0]
    assert "Rule verdicts" in body and "exception #42" in section and "unused for 200 days" in section
    assert "&lt;script&gt;alert(&#x27;reason&#x27;)" in section and "<script>" not in section
    assert f"#{posture['snap'].pk}" in section and "of the stored finding" in section

    secret = _body(client.get(reverse("inventory:credential_detail", args=[posture["secret"].pk])))
    assert "No rule's population includes this credential." in secret


def test_the_verdicts_use_the_policy_of_the_latest_evaluation(client, grc_lead, posture):
    new = PolicyVersion.objects.create(
        version=2, data={**posture["policy"].data, "rotation_days": {**posture["policy"].data["rotation_days"], "iam-user-key": 500}}
    )
    client.force_login(grc_lead)
    verdicts = client.get(reverse("inventory:credential_detail", args=[posture["key"].pk])).context["verdicts"]
    assert {v.rule.id: v.status for v in verdicts.verdicts}["iam-key-rotation-age"] == "fail"  # v1: 90 days
    Evaluation.objects.filter(pk=posture["latest"].pk).update(policy_version=new)
    verdicts = client.get(reverse("inventory:credential_detail", args=[posture["key"].pk])).context["verdicts"]
    assert {v.rule.id: v.status for v in verdicts.verdicts}["iam-key-rotation-age"] == "pass"


def test_a_disappeared_credential_is_in_no_population(client, grc_lead, posture):
    Credential.objects.filter(pk=posture["key2"].pk).update(disappeared_at=NOW)
    client.force_login(grc_lead)
    body = _body(client.get(reverse("inventory:credential_detail", args=[posture["key2"].pk])))
    assert "This credential has disappeared, so no rule judges it any more." in body
    verdicts = client.get(reverse("inventory:credential_detail", args=[posture["key"].pk])).context["verdicts"]
    assert {v.rule.id: v.status for v in verdicts.verdicts}["iam-key-two-active"] == "pass"  # one present key left


def test_the_live_verdicts_agree_with_an_evaluation_by_the_real_rules(
    client, grc_lead, posture, monkeypatch, django_capture_on_commit_callbacks
):
    """Facts for one credential are built as the evaluation builds them: with the registered
    rules, what the panel says does not pass is what the evaluation stored."""
    monkeypatch.setattr(registry, "RULES", REAL_RULES)
    registry.get_rule.cache_clear()
    CredentialFactory(
        source=posture["prod"],
        scope="aws_iam",
        external_id="console:alice",
        credential_type=Credential.Type.CONSOLE_PASSWORD,
        name="alice",
        identity=posture["alice"],
        enabled=True,
        created_at=OLD,
        last_used_at=OLD,
        fingerprint="f",
        first_seen_at=OLD,
    )
    client.force_login(grc_lead)
    with django_capture_on_commit_callbacks(execute=True):  # the queued evaluation runs (eager Celery)
        assert client.post(reverse("evaluation:evaluate")).status_code == 302
    evaluation = Evaluation.objects.order_by("-pk").first()
    assert evaluation.state == "succeeded", evaluation.error
    for credential in Credential.objects.all():
        verdicts = client.get(reverse("inventory:credential_detail", args=[credential.pk])).context["verdicts"]
        assert verdicts.evaluation == evaluation and not verdicts.unavailable
        live = {(v.rule.id, v.status) for v in verdicts.verdicts if v.status != "pass"}
        stored = set(Finding.objects.filter(evaluation=evaluation, credential=credential).values_list("rule_id", "status"))
        assert live == stored, credential.name
        assert live, credential.name  # each of these credentials fails something
        assert all(v.rule.title and v.rule.explanation for v in verdicts.verdicts)


# --- policy ----------------------------------------------------------------------------------


def _valid_post(**changes) -> dict:
    from apps.evaluation.forms import PolicyForm
    from apps.evaluation.policy import DEFAULT_POLICY

    data = {k: v for k, v in PolicyForm.initial_for(DEFAULT_POLICY).items() if v is not False}
    data["comment"] = "tighter"
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"unused_days": "-5"}, "unused_days: -5 is outside 1–3650"),
        ({"rotation_database": "0"}, "database: 0 is outside 1–3650"),
        ({"kv_expiry_warning_days": "400", "kv_max_validity_days": "365"}, "kv_expiry_warning_days must be below kv_max_validity_days"),
        (
            {"classification": "database: tag class=database\ndatabase tag class=db"},
            "Line 2: expected “class: tag key=value” or “class: name pattern”",
        ),
        ({"classification": "martian: name *x*"}, "Line 1: unknown class “martian”"),
        ({"classification": "database: tag class"}, "Line 1: a tag rule needs key=value"),
        ({"unused_days": "ten"}, "Enter a whole number."),
        ({"owner_tag_keys": " , "}, "owner_tag_keys: a non-empty list of tag keys"),
        ({"coverage_grace_factor": "0.5"}, "coverage_grace_factor: a number from 1 to 10"),
        ({"comment": ""}, "This field is required."),
        ({"comment": "same"}, "Nothing changed: the policy is the same as the version in force."),
    ],
)
def test_an_impossible_policy_shows_the_error_and_stores_nothing(client, grc_lead, catalog, changes, message):
    policy_current()
    client.force_login(grc_lead)
    response = client.post(reverse("evaluation:policy_edit"), _valid_post(**changes))
    body = _body(response)
    assert message.replace("“", "&ldquo;").replace("”", "&rdquo;") in body or message in body, body.split("<form")[1][:3000]
    assert PolicyVersion.objects.count() == 1 and not AuditEvent.objects.filter(event_type="policy.updated").exists()


def test_a_valid_policy_change_stores_the_next_version_and_shows_its_diff(client, grc_lead, catalog):
    policy_current()
    client.force_login(grc_lead)
    classification = "database: tag class=database\ndatabase: name *pg*\n\nexternal-api: tag Kind=<b>api</b>"
    response = client.post(
        reverse("evaluation:policy_edit"),
        _valid_post(
            unused_days="60",
            rotation_database="30",
            password_require_symbols="",
            owner_tag_keys="owner, team-owner",
            classification=classification,
            coverage_grace_factor="3",
            comment="Q3 review <i>ok</i>",
        ),
    )
    assert response.status_code == 302 and response["Location"] == reverse("evaluation:policy")
    new = PolicyVersion.objects.get(version=2)
    assert new.created_by == grc_lead and new.comment == "Q3 review <i>ok</i>"
    assert new.data["unused_days"] == 60 and new.data["rotation_days"]["database"] == 30 and new.data["password_require_symbols"] is False
    assert new.data["owner_tag_keys"] == ["owner", "team-owner"] and new.data["coverage_grace_factor"] == 3.0
    assert new.data["classification"] == [
        {"class": "database", "tag_key": "class", "tag_value": "database"},
        {"class": "database", "name_pattern": "*pg*"},
        {"class": "external-api", "tag_key": "Kind", "tag_value": "<b>api</b>"},
    ]
    event = AuditEvent.objects.get(event_type="policy.updated")
    assert event.actor == grc_lead and event.changes["unused_days"] == [45, 60] and event.target_id == str(new.pk)

    page = _body(client.get(response["Location"]))
    assert "Version 2 in force" in page and "Q3 review &lt;i&gt;ok&lt;/i&gt;" in page
    assert "<strong>unused_days</strong>: 45 → 60" in page and "<strong>rotation_days.database</strong>: 60 → 30" in page
    assert "<strong>password_require_symbols</strong>: yes → no" in page
    assert "external-api: tag Kind=&lt;b&gt;api&lt;/b&gt;" in page and "<b>api</b>" not in page
    assert "database: name *db*" in page  # a removed classification line is listed
    form = _body(client.get(reverse("evaluation:policy_edit")))
    assert 'name="unused_days" value="60"' in form and "version 3" in form


# --- hostile strings, charts, query counts ---------------------------------------------------


def test_hostile_labels_and_reasons_are_escaped_and_isolated(client, grc_lead, posture):
    latest, prod = posture["latest"], posture["prod"]
    FindingFactory(
        evaluation=latest,
        rule_id="iam-key-rotation-age",
        status="fail",
        severity="high",
        subject_type="credential",
        source=prod,
        credential=posture["key2"],
        subject_label="<svg onload=alert(1)>\u202eevil",
        reason=HOSTILE * 3,
    )
    client.force_login(grc_lead)
    for url in (
        reverse("evaluation:finding_list"),
        reverse("evaluation:requirement", args=["9.2.4.08"]),
        reverse("inventory:credential_detail", args=[posture["key"].pk]),
        reverse("evaluation:dashboard"),
    ):
        body = _page(_body(client.get(url)))
        assert "<script>alert" not in body and "<svg onload" not in body and "<img src=x" not in body, url
    listing = _body(client.get(reverse("evaluation:finding_list")))
    assert re.search(
        r'<td class="cloud" dir="auto"><span class="muted small">credential</span> <a href="[^"]+">&lt;svg onload=alert\(1\)&gt;\u202eevil</a>',
        listing,
    )
    # The reason carries bidi controls: isolated as text (FSI … PDI), so it cannot reorder what follows.
    assert '<td class="cloud reason" dir="auto">\u2068&lt;script&gt;' in listing


def test_the_charts_escape_every_text():
    hostile = '<script>alert("x")</script>" onload="alert(1)'
    svg = charts.posture_chart(
        [charts.PosturePoint(hostile, hostile, {"pass": 3, "fail": 1}), charts.PosturePoint("b", "b", {"evidenced": 2})], title=hostile
    )
    trend = charts.requirement_trend(
        [charts.TrendPoint(hostile, "fail", 10, 2, 1, 1), charts.TrendPoint(hostile), charts.TrendPoint(hostile, "evidence_missing")]
    )
    for out in (svg, trend):
        assert "<script" not in out.lower() and '" onload="' not in out
        assert out.startswith("<svg ") and out.endswith("</svg>")
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in svg
    assert charts.requirement_trend([]) == ""
    assert "No evaluation yet" in charts.posture_chart([])


def test_the_dashboard_svg_has_no_unescaped_script(client, grc_lead, posture):
    client.force_login(grc_lead)
    body = _body(client.get(reverse("evaluation:dashboard")))
    svgs = re.findall(r"<svg.*?</svg>", body, re.S)
    assert svgs, "the dashboard drew no chart to check"
    for svg in svgs:
        assert "<script" not in svg.lower()


def _grow(posture, catalog, *, evaluations: int, findings: int):
    """More evaluations (each with a status per requirement) and findings in the latest."""
    for n in range(evaluations):
        _evaluation(posture["policy"], {"9.2.4.08": "fail" if n % 2 else "pass"}, catalog=catalog, as_of=NOW - dt.timedelta(days=30 + n))
    Finding.objects.bulk_create(
        [
            Finding(
                evaluation=posture["latest"],
                rule_id="iam-key-two-active",
                status="excepted" if n % 3 == 0 else "fail",
                severity="medium",
                subject_type="credential",
                source=posture["prod" if n % 2 else "vault"],
                credential=posture["key2"],
                snapshot=posture["snap"],
                subject_label=f"k{n}",
                reason="two keys",
                exception_id=n if n % 3 == 0 else None,
            )
            for n in range(findings)
        ]
    )


def test_dashboard_and_findings_make_a_fixed_number_of_queries(client, grc_lead, posture, catalog, django_assert_max_num_queries):
    client.force_login(grc_lead)
    findings_url = reverse("evaluation:finding_list")
    pages = {
        "dashboard": (reverse("evaluation:dashboard"), 12),
        "findings": (findings_url, 12),
        "filtered": (findings_url + "?status=fail&q=k", 12),
        "late page": (findings_url + "?page=7", 12),  # the last page once grown; the nearest (first) before
        "sub-requirement": (reverse("evaluation:requirement", args=["9.2.4.08"]), 14),
        "its status": (reverse("evaluation:requirement_status", args=["9.2.4.08"]), 10),
    }
    for url, _ in pages.values():  # warm the per-process caches (content types) so that both rounds start alike
        client.get(url)
    counts = []
    for extra_evaluations, extra_findings in ((0, 0), (15, 300)):
        _grow(posture, catalog, evaluations=extra_evaluations, findings=extra_findings)
        row = {}
        for name, (url, ceiling) in pages.items():
            with django_assert_max_num_queries(ceiling) as queries:
                response = client.get(url)
            assert response.status_code == 200, name
            row[name] = len(queries.captured_queries)
        counts.append(row)
    assert counts[0] == counts[1], counts  # the same whatever the number of evaluations and findings
    assert len(client.get(findings_url).context["page"]) == 50
    assert client.get(findings_url + "?page=7").context["page"].number == 7
