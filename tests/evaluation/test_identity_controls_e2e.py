"""The identity-control rules end to end on the demo's seeding: moto's server over real HTTP,
collected into PostgreSQL, evaluated; every new rule has at least one pass and one fail, and
the four sub-requirements are tested by rules in the catalog."""

from __future__ import annotations

import pytest
from django.utils import timezone

from apps.devtools.simulators.identity_controls import seed_identity_controls
from apps.evaluation.models import Finding, RuleResult
from apps.evaluation.services import evaluation_run
from apps.inventory.services.collection import collection_start
from tests.support.cloud import ACCOUNT_A, ACCOUNT_B, cloud, moto_server_url, register_sources  # noqa: F401

pytestmark = pytest.mark.django_db

NEW_RULES = {
    "console-password-initial-unchanged",
    "console-password-no-reset-required",
    "sm-initial-version-not-rotated",
    "break-glass-mfa",
    "break-glass-no-access-keys",
    "break-glass-unused",
    "break-glass-owner",
    "sso-identity-center-not-used",
    "console-password-user-share",
    "console-password-outside-sso",
    "third-party-user-no-expiry",
    "third-party-key-age",
    "role-external-trust-no-external-id",
}


def test_demo_seeding_gives_a_pass_and_a_fail_for_each_identity_rule(cloud, grc_lead, django_capture_on_commit_callbacks):
    seed_identity_controls(ACCOUNT_A, sandbox=ACCOUNT_B, few_passwords=ACCOUNT_B, region="eu-west-1", now=timezone.now())
    sources = register_sources(grc_lead, cloud)[:2]
    with django_capture_on_commit_callbacks(execute=True):
        run = collection_start(actor=grc_lead, sources=sources)
    run.refresh_from_db()
    assert run.status == "succeeded", [u.errors for u in run.units.all()]
    evaluation = evaluation_run()

    results = {r.rule_id: r for r in RuleResult.objects.filter(evaluation=evaluation, rule_id__in=NEW_RULES)}
    assert set(results) == NEW_RULES
    for rule_id, result in results.items():
        assert result.failed >= 1, rule_id
        assert result.passed >= 1, (rule_id, result.population, result.failed, result.not_assessed)

    findings = Finding.objects.filter(evaluation=evaluation, status="fail")
    subjects = {(f.rule_id, f.subject_label) for f in findings if f.rule_id.startswith(("break-glass", "third-party"))}
    assert {
        ("break-glass-mfa", "breakglass-02"),
        ("break-glass-owner", "breakglass-02"),
        ("third-party-user-no-expiry", "vendor-globex-sync"),
    } <= subjects
    assert not any(label in ("breakglass-01", "vendor-acme-support") for _, label in subjects if not _.startswith("third-party-key"))
    role_finding = findings.get(rule_id="role-external-trust-no-external-id")
    assert "vendor-deploy-role" in role_finding.reason and "vendor-audit-role" not in role_finding.reason


def test_the_policy_form_keeps_the_identity_control_fields():
    from apps.evaluation.forms import PolicyForm
    from apps.evaluation.policy import DEFAULT_POLICY, policy_from_dict

    changed = {
        **DEFAULT_POLICY,
        "break_glass_tag_key": "emergency",
        "flag_tag_values": ["on"],
        "handover_rotation_classes": ["database", "third-party"],
        "break_glass_require_hardware_mfa": False,
    }
    initial = PolicyForm.initial_for(changed)
    form = PolicyForm(data={**{k: v for k, v in initial.items() if v is not False}, "comment": "identity controls"})
    assert form.is_valid(), form.errors
    policy = policy_from_dict(form.policy_data())
    assert policy.break_glass_tag_key == "emergency" and policy.flag_tag_values == ("on",)
    assert policy.handover_rotation_classes == ("database", "third-party") and policy.break_glass_require_hardware_mfa is False
    assert policy.third_party_tag_key == "third-party" and policy.expiry_tag_keys == tuple(DEFAULT_POLICY["expiry_tag_keys"])
    bad = PolicyForm(data={**{k: v for k, v in initial.items() if v is not False}, "handover_rotation_classes": "gold", "comment": "x"})
    assert bad.is_valid()
    try:
        policy_from_dict(bad.policy_data())
    except ValueError as exc:
        assert "handover_rotation_classes" in str(exc)
    else:
        raise AssertionError("an unknown class must be refused")
