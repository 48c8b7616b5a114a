"""Evaluations against the database: populations, roll-up, coverage, policy versions."""

from datetime import UTC, datetime, timedelta

import pytest

from apps.audit.models import AuditEvent
from apps.core.errors import PermissionRefused, ValidationFailed
from apps.devtools.simulators.inventory import seed_inventory
from apps.evaluation.models import Evaluation, Finding, PolicyVersion, RequirementStatus, RuleResult
from apps.evaluation.rules.registry import RULES
from apps.evaluation.services import evaluation_run, policy_current, policy_update
from apps.inventory.models import CollectionUnit, Snapshot

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def inventory(catalog, grc_lead):
    return seed_inventory(credentials=400, seed=3, now=NOW, actor=grc_lead)


def test_an_evaluation_records_every_rule_and_requirement(inventory, grc_lead):
    evaluation = evaluation_run(actor=grc_lead, now=NOW + timedelta(hours=1))
    assert evaluation.state == "succeeded" and evaluation.policy_version == policy_current()
    assert evaluation.counts["credentials"] == inventory["credentials"]
    assert set(RuleResult.objects.filter(evaluation=evaluation).values_list("rule_id", flat=True)) == set(RULES)
    assert RequirementStatus.objects.filter(evaluation=evaluation).count() == 28
    rotation = RuleResult.objects.get(evaluation=evaluation, rule_id="iam-key-rotation-age")
    assert rotation.population > 0 and rotation.failed > 0 and rotation.status == "fail"
    assert Finding.objects.filter(evaluation=evaluation, rule_id="iam-key-rotation-age", status="fail").count() == rotation.failed
    finding = Finding.objects.filter(evaluation=evaluation, credential__isnull=False).first()
    assert finding.snapshot is not None and finding.reason
    assert RequirementStatus.objects.get(evaluation=evaluation, requirement__ref="9.2.4.08").status == "fail"
    assert (
        RequirementStatus.objects.get(evaluation=evaluation, requirement__ref="9.2.4.01").status == "evidence_missing"
    )  # no rule tests it, no control holds evidence for it
    assert AuditEvent.objects.filter(event_type="evaluation.completed", target_id=str(evaluation.pk)).exists()


def test_a_stale_or_failed_source_makes_its_rules_not_assessed_never_pass(inventory, grc_lead):
    later = NOW + timedelta(days=30)  # far beyond schedule × grace
    evaluation = evaluation_run(now=later)
    coverage = RuleResult.objects.get(evaluation=evaluation, rule_id="source-coverage")
    assert coverage.status == "fail" and coverage.failed == 2
    kv = RuleResult.objects.get(evaluation=evaluation, rule_id="kv-secret-no-expiry")
    assert not kv.covered and "last collected" in kv.note
    assert kv.status in {"fail", "not_assessed"}
    empty = [r for r in RuleResult.objects.filter(evaluation=evaluation) if r.failed == 0 and r.rule_id != "source-coverage"]
    assert all(r.status != "pass" for r in empty if not r.covered)


def test_a_never_collected_region_is_not_covered(inventory, grc_lead):
    from apps.inventory.models import Source

    source = Source.objects.get(kind="aws_account", name__startswith="bench-aws")
    source.regions = ["eu-west-1", "us-east-1"]
    source.save()
    evaluation = evaluation_run(now=NOW + timedelta(hours=1))
    sm = RuleResult.objects.get(evaluation=evaluation, rule_id="sm-rotation-disabled")
    assert not sm.covered and "us-east-1" in sm.note


def test_policy_changes_are_versioned_audited_and_used(inventory, grc_lead):
    first = evaluation_run(now=NOW + timedelta(hours=1))
    before = RuleResult.objects.get(evaluation=first, rule_id="iam-key-rotation-age").failed
    data = dict(policy_current().data)
    data["rotation_days"] = {**data["rotation_days"], "iam-user-key": 3650}
    version = policy_update(actor=grc_lead, data=data, comment="accept old keys (test)")
    assert version.version == 2 and AuditEvent.objects.filter(event_type="policy.updated").exists()
    second = evaluation_run(now=NOW + timedelta(hours=1))
    assert second.policy_version == version and first.policy_version.version == 1
    assert RuleResult.objects.get(evaluation=second, rule_id="iam-key-rotation-age").failed < before


def test_policy_refusals(grc_lead, approver):
    data = dict(policy_current().data)
    with pytest.raises(ValidationFailed, match="unused_days"):
        policy_update(actor=grc_lead, data={**data, "unused_days": -5})
    with pytest.raises(ValidationFailed, match="Nothing changed"):
        policy_update(actor=grc_lead, data=data)
    with pytest.raises(PermissionRefused):
        policy_update(actor=approver, data={**data, "unused_days": 30})
    assert PolicyVersion.objects.count() == 1


def test_evaluation_follows_a_collection(grc_lead, django_capture_on_commit_callbacks, monkeypatch):
    from apps.connectors import registry
    from apps.inventory.services.collection import collection_start
    from apps.inventory.services.sources import source_create

    monkeypatch.setitem(registry.CONNECTORS, "azure_key_vault", "tests.inventory.scripted.ScriptedKeyVault")
    registry.connector_class.cache_clear()
    source = source_create(actor=grc_lead, name="kv", kind="azure_key_vault", vault_url="https://kv.vault.azure.net/")
    with django_capture_on_commit_callbacks(execute=True):
        run = collection_start(actor=grc_lead, sources=[source])
    registry.connector_class.cache_clear()
    evaluation = Evaluation.objects.get(collection_run=run)
    assert evaluation.trigger == "collection" and evaluation.state == "succeeded"
    assert Snapshot.objects.filter(unit__run=run).exists() and CollectionUnit.objects.filter(run=run, status="succeeded").exists()


def test_evaluation_query_count_does_not_grow_with_the_population(catalog, grc_lead, django_assert_max_num_queries):
    seed_inventory(credentials=300, seed=5, now=NOW, actor=grc_lead)
    evaluation_run(now=NOW + timedelta(minutes=30))  # both measured runs are incremental (they skip unchanged subjects)
    with django_assert_max_num_queries(70) as small:  # chunked reads and carry rows: a fixed number per chunk
        evaluation_run(now=NOW + timedelta(hours=1))
    seed_inventory(credentials=3000, seed=6, now=NOW, actor=grc_lead)
    with django_assert_max_num_queries(len(small.captured_queries) + 4):
        evaluation_run(now=NOW + timedelta(hours=1))
