"""The rule registry and the requirement catalog stay in step, and every rule keeps the contract."""

import dataclasses
import json

import pytest
from django.utils.module_loading import import_string

from apps.catalog.loader import read_catalog
from apps.evaluation.rules.base import SEVERITIES, Rule, Verdict
from apps.evaluation.rules.registry import RULES, all_rules, get_rule
from tests.evaluation.rules.facts import ago, ahead, cred, ctx, identity, scope, source

SUBJECTS = {"credential", "identity", "source"}
SCOPE_KINDS = {
    None,
    "aws_iam",
    "aws_secrets_manager",
    "aws_ssm",
    "azure_key_vault",
    "azure_key_vault_keys",
    "azure_key_vault_certificates",
    "azure_subscription",
    "entra_id",
}


def _catalog_refs_by_rule() -> dict[str, set[str]]:
    refs: dict[str, set[str]] = {}
    for requirement in read_catalog().requirements:
        for rule_id in requirement["rules"]:
            refs.setdefault(rule_id, set()).add(requirement["ref"])
    return refs


def test_there_are_62_rules():
    assert len(RULES) == 62 and len(all_rules()) == 62


@pytest.mark.parametrize("rule_id, path", sorted(RULES.items()))
def test_every_entry_imports_and_keeps_the_contract(rule_id, path):
    cls = import_string(path)
    assert issubclass(cls, Rule)
    rule = get_rule(rule_id)
    assert rule.id == rule_id
    assert rule.title and len(rule.title) <= 120
    assert rule.severity in SEVERITIES
    assert rule.subject in SUBJECTS
    kinds = rule.scope_kind if isinstance(rule.scope_kind, tuple) else (rule.scope_kind,)
    assert kinds and all(k in SCOPE_KINDS for k in kinds)
    assert isinstance(rule.requirements, tuple) and rule.requirements
    sentences = [s for s in rule.explanation.replace("e.g.", "eg").split(". ") if s.strip()]
    assert rule.explanation.strip() and 2 <= len(sentences) <= 4, rule.explanation
    assert type(rule).applies is not Rule.applies and type(rule).evaluate is not Rule.evaluate


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_requirements_are_exactly_the_catalog_refs_listing_the_rule(rule_id):
    assert set(get_rule(rule_id).requirements) == _catalog_refs_by_rule().get(rule_id, set())
    assert len(set(get_rule(rule_id).requirements)) == len(get_rule(rule_id).requirements)


def test_every_rule_the_catalog_names_is_registered():
    assert set(_catalog_refs_by_rule()) <= set(RULES)


def test_every_registered_rule_is_named_by_the_catalog():
    assert set(RULES) <= set(_catalog_refs_by_rule())


def _subjects() -> dict[str, list]:
    """A mixed population touching every rule's paths, including unknowns and future dates."""
    human = identity(privileged=True, mfa_active=None)
    service, root = identity(kind="service", privileged=True), identity(kind="root")
    creds = [
        cred("access_key", identity=human, created_at=ago(300)),
        cred("access_key", identity=service, enabled=False),
        cred("access_key", identity=human, enabled=None, created_at=None),
        cred("console_password", identity=human),
        cred("console_password", identity=service, created_at=ahead(2)),
        cred("root_access_key", identity=root),
        cred(
            "sm_secret",
            rotation_enabled=True,
            next_rotation_at=ago(1),
            last_rotated_at=ago(40),
            rotation_interval_days=30,
            last_used_at=ago(200),
            tags={"owner": "=cmd|' /C calc'!A0"},
        ),
        cred("sm_secret", deleted_at=ago(3), created_at=None),
        cred("kv_secret", expires_at=ahead(10)),
        cred("kv_secret", expires_at=ago(10), not_before=ago(900)),
        cred("kv_secret", enabled=None),
    ]
    sources = [
        source(
            iam_facts={"password_policy": {"MinimumPasswordLength": 8}, "password_policy_status": "present"},
            scopes=[scope("aws_iam", status="failed")],
        ),
        source(iam_facts={"password_policy": None, "password_policy_status": "unknown"}, scopes=[scope()]),
        source(kind="azure_key_vault", iam_facts=None, scopes=[scope("azure_key_vault:https://v/", last_success_at=ago(5))]),
    ]
    return {"credential": creds, "identity": [human, service, root], "source": sources}


def test_every_rule_judges_a_mixed_population_with_json_safe_data_and_a_reason():
    subjects, context = _subjects(), ctx()
    seen = set()
    for rule in all_rules():
        for subject in subjects[rule.subject]:
            if not rule.applies(subject):
                continue
            verdict = rule.evaluate(subject, context)
            assert isinstance(verdict, Verdict) and verdict.status in {"pass", "fail", "not_assessed"}
            assert verdict.reason and isinstance(verdict.reason, str)
            json.dumps(verdict.data, allow_nan=False)
            seen.add(rule.id)
    assert len(seen) >= 24, set(RULES) - seen


def _state(subject) -> str:
    """Every field of a fact except the back-references (identity <-> credentials)."""
    skip = ("identity", "credentials")
    return repr({f.name: getattr(subject, f.name) for f in dataclasses.fields(subject) if f.name not in skip})


def test_rules_do_not_change_the_facts_they_judge():
    subjects = _subjects()
    before = {kind: [_state(s) for s in items] for kind, items in subjects.items()}
    for rule in all_rules():
        for subject in subjects[rule.subject]:
            if rule.applies(subject):
                rule.evaluate(subject, ctx())
    assert {kind: [_state(s) for s in items] for kind, items in subjects.items()} == before
