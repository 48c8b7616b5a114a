"""Azure subscription discovery end to end over real HTTPS (the ARM and Key Vault simulators):
discovered vaults become member Key Vault sources collected in the same run, a vault that refuses
keytrail fails its own unit by name, a deleted vault is disabled, and the vault-level facts reach
the rules as the member vault's source facts."""

from __future__ import annotations

import pytest
from azure.keyvault.secrets._shared import http_challenge_cache
from django.core.management import call_command

from apps.audit.models import AuditEvent
from apps.devtools.simulators.arm import ArmSimulator
from apps.devtools.simulators.key_vault import KeyVaultSimulator, certificate_paths
from apps.evaluation.models import Finding, RuleResult
from apps.evaluation.services import evaluation_run
from apps.inventory.models import Credential, Source
from apps.inventory.services.collection import collection_start
from apps.inventory.services.sources import source_create

pytestmark = pytest.mark.django_db

SUB = "11111111-2222-3333-4444-555555555555"
UNKNOWN = "99999999-2222-3333-4444-555555555555"


@pytest.fixture
def azure(settings):
    http_challenge_cache.clear()
    settings.AZURE_CREDENTIAL_CLASS = "apps.devtools.simulators.key_vault.SimulatorCredential"
    settings.AZURE_VERIFY_CHALLENGE_RESOURCE = False
    settings.AZURE_CONNECTION_VERIFY = certificate_paths()[0]
    settings.AZURE_RETRY_TOTAL = 1
    settings.AZURE_RETRY_BACKOFF_FACTOR = 0.01
    arm = ArmSimulator().start()
    settings.AZURE_RESOURCE_MANAGER_URL = arm.url
    arm.add_subscription(SUB, display_name="prod")
    vaults = {name: KeyVaultSimulator(name).start() for name in ("payments", "orders", "locked")}
    for name, vault in vaults.items():
        vault.add_secret(f"{name}-db-password", tags={"owner": "ops"})
    vaults["locked"].refuse_tokens = True  # its data plane refuses keytrail (access policy / firewall)
    arm.add_vault(SUB, "payments", vault_url=vaults["payments"].url, secret_get_principals=("a", "b"))
    arm.add_vault(SUB, "orders", vault_url=vaults["orders"].url, purge_protection=None, secret_get_principals=tuple("abcdefg"))
    arm.add_vault(SUB, "locked", vault_url=vaults["locked"].url, rbac_authorization=True)
    arm.send_audit_logs(SUB, "payments")
    yield arm, vaults
    assert arm.violations == []
    arm.stop()
    for vault in vaults.values():
        assert vault.violations == []
        vault.stop()


def _collect(actor, sources, capture):
    with capture(execute=True):
        run = collection_start(actor=actor, sources=sources)
    run.refresh_from_db()
    return run


def test_a_subscription_run_collects_each_vault_as_a_member_and_names_the_refusing_one(
    azure, grc_lead, django_capture_on_commit_callbacks, capsys
):
    arm, vaults = azure
    source = source_create(actor=grc_lead, name="azure prod", kind="azure_subscription", subscription_ids=[SUB, UNKNOWN])
    run = _collect(grc_lead, [source], django_capture_on_commit_callbacks)
    assert run.status == "partial"  # the refusing vault's unit failed
    members = {m.name.split(" / ", 1)[1].split(" (", 1)[0]: m for m in Source.objects.filter(parent=source)}
    assert set(members) == {"payments", "orders", "locked"}
    assert all(m.kind == "azure_key_vault" and m.enabled and m.vault_url == m.source_key for m in members.values())
    assert grc_lead.has_perm("inventory.view_source", members["payments"])
    assert AuditEvent.objects.filter(event_type="source.member_registered").count() == 3
    discovery = run.units.get(source=source)
    assert discovery.scope == "azure_subscription" and discovery.status == "succeeded"
    assert {(e["code"], e["item"]) for e in discovery.errors} == {("subscription_not_assessed", UNKNOWN)}
    # Every Key Vault connector applies to each discovered vault, each its own unit.
    assert Credential.objects.filter(source=members["payments"], credential_type="kv_secret").count() == 1
    locked_units = run.units.filter(source=members["locked"])
    # Secrets, keys and certificates: each its own unit, each refused by name.
    assert sorted(u.connector for u in locked_units) == ["azure_key_vault", "azure_key_vault_certificates", "azure_key_vault_keys"]
    for locked_unit in locked_units:
        assert locked_unit.status == "failed" and locked_unit.errors[-1]["code"] == "auth_refused"
        assert locked_unit.spawned_by_id == discovery.pk
    call_command("run_report", str(run.pk))
    out = capsys.readouterr().out
    assert "subscription_not_assessed" in out and UNKNOWN in out and "auth_refused" in out

    evaluation_run(actor=grc_lead)
    findings = {(f.rule_id, f.source_id): f for f in Finding.objects.filter(rule_id__startswith="kv-vault-")}
    payments, orders, locked = members["payments"].pk, members["orders"].pk, members["locked"].pk
    assert findings[("kv-vault-protected-storage", orders)].status == "fail"
    assert "purge protection is off" in findings[("kv-vault-protected-storage", orders)].reason
    assert findings[("kv-vault-secret-readers", orders)].status == "fail"
    assert findings[("kv-vault-audit-logging", orders)].status == "fail"
    # Passes are not stored as findings: the rules judged all three vaults, these passed.
    assert ("kv-vault-secret-readers", locked) not in findings  # RBAC, no secret-reading role assigned
    assert ("kv-vault-audit-logging", payments) not in findings and ("kv-vault-protected-storage", payments) not in findings
    results = {r.rule_id: r for r in RuleResult.objects.filter(rule_id__startswith="kv-vault-")}
    assert {rule: r.population for rule, r in results.items()} == dict.fromkeys(
        ("kv-vault-protected-storage", "kv-vault-secret-readers", "kv-vault-audit-logging"), 3
    )
    coverage = {f.source_id: f for f in Finding.objects.filter(rule_id="source-coverage")}
    assert "auth_refused" in coverage[locked].reason or "token refused" in coverage[locked].reason
    assert coverage[locked].status == "fail"
    assert coverage[source.pk].status == "not_assessed" and UNKNOWN in coverage[source.pk].reason

    # The vault deleted in Azure is disabled (audited), its history kept; a new vault appears.
    arm.remove_vault(SUB, "orders")
    new = KeyVaultSimulator("billing").start()
    try:
        arm.add_vault(SUB, "billing", vault_url=new.url)
        again = _collect(grc_lead, [source], django_capture_on_commit_callbacks)
    finally:
        new.stop()
    members["orders"].refresh_from_db()
    assert members["orders"].enabled is False and Credential.objects.filter(source=members["orders"]).exists()
    facts = again.units.get(source=source).snapshot.facts
    assert [v["name"] for v in facts["left"]] == ["orders"]
    assert {v["name"]: v["event"] for v in facts["vaults"]}["billing"] == "appeared"
    assert Source.objects.filter(parent=source, enabled=True).count() == 3


def test_a_vault_already_registered_by_url_is_collected_there_not_twice(azure, grc_lead, django_capture_on_commit_callbacks):
    _arm, vaults = azure
    by_hand = source_create(actor=grc_lead, name="payments by hand", kind="azure_key_vault", vault_url=vaults["payments"].url)
    source = source_create(actor=grc_lead, name="azure prod", kind="azure_subscription", subscription_ids=[SUB])
    run = _collect(grc_lead, [source], django_capture_on_commit_callbacks)
    errors = run.units.get(source=source).errors
    assert any(e["code"] == "member_registered_elsewhere" and "payments by hand" in e["message"] for e in errors)
    assert not Source.objects.filter(parent=source, source_key=by_hand.source_key).exists()


@pytest.mark.hostile
def test_the_subscription_page_and_api_show_each_vault_its_health_and_the_not_assessed_escaped(
    azure, grc_lead, client, django_capture_on_commit_callbacks
):
    from django.urls import reverse
    from rest_framework.test import APIClient

    from tests.support.hostile import TEXT, assert_escaped_html

    arm, vaults = azure
    hostile = KeyVaultSimulator("hostile").start()
    try:
        item = arm.add_vault(SUB, "hostile", vault_url=hostile.url, tags={"owner": TEXT["html_script"]})
        item["name"] = TEXT["html_script"]
        api = APIClient()
        api.force_authenticate(grc_lead)
        created = api.post(
            reverse("api:source-list"),
            {"name": "azure prod", "kind": "azure_subscription", "subscription_ids": [SUB, UNKNOWN]},
            format="json",
        )
        assert created.status_code == 201, created.content
        assert created.json()["subscription_ids"] == [SUB, UNKNOWN]
        bad = api.post(
            reverse("api:source-list"), {"name": "bad", "kind": "azure_subscription", "subscription_ids": ["prod"]}, format="json"
        )
        assert bad.status_code == 400 and "Subscriptions" in bad.content.decode()
        source = Source.objects.get(pk=created.json()["id"])
        _collect(grc_lead, [source], django_capture_on_commit_callbacks)
    finally:
        hostile.stop()
    client.force_login(grc_lead)
    page = client.get(reverse("inventory:source_detail", args=[source.pk])).content.decode()
    assert "Key Vaults of the subscriptions" in page and "payments" in page and "locked" in page
    assert "not assessed" in page and UNKNOWN in page and "auth_refused" in page
    assert_escaped_html(page, [TEXT["html_script"]])
    detail = api.get(reverse("api:source-detail", args=[source.pk])).json()["subscription"]
    by_name = {v["name"]: v for v in detail["vaults"]}
    assert by_name["locked"]["health"] == "failed" and "auth_refused" in by_name["locked"]["problem"]
    assert by_name["payments"]["health"] == "succeeded" and by_name["payments"]["facts"]["purge_protection"] is True
    assert by_name[TEXT["html_script"]]["facts"]["tags"]["owner"] == TEXT["html_script"]
    assert [a["id"] for a in detail["not_assessed"]] == [UNKNOWN]


@pytest.mark.hostile
@pytest.mark.parametrize("key", ["nul", "invalid_utf8", "rtl_override", "control_chars", "formula_eq", "big_10k"])
def test_hostile_vault_names_are_stored_as_text_through_the_whole_path(azure, grc_lead, django_capture_on_commit_callbacks, key):
    from apps.core.text import storable
    from tests.support.hostile import TEXT

    arm, vaults = azure
    value = TEXT[key]
    item = arm.add_vault(SUB, "payments", vault_url=vaults["payments"].url, tags={"owner": value})
    item["name"] = value
    arm.add_raw_vault(SUB, "broken", {"name": value, "properties": {"vaultUri": "http://not-https"}})
    source = source_create(actor=grc_lead, name="azure prod", kind="azure_subscription", subscription_ids=[SUB])
    run = _collect(grc_lead, [source], django_capture_on_commit_callbacks)
    discovery = run.units.get(source=source)
    assert discovery.status == "succeeded", discovery.errors
    assert any(e["code"] == "malformed_item" and e["item"] == storable(value[:200]) for e in discovery.errors)
    member = Source.objects.get(parent=source, source_key=vaults["payments"].url + "/")
    assert len(member.name) <= 120 and "\x00" not in member.name
    facts = discovery.snapshot.facts["member_facts"][member.source_key]
    assert facts["vault_name"] == storable(value[:200]) and facts["tags"]["owner"] == storable(value[:500])


def test_the_source_form_registers_a_subscription_and_refuses_a_typo_by_field(client, grc_lead):
    from django.urls import reverse

    client.force_login(grc_lead)
    url = reverse("inventory:source_create")
    form = client.get(url, {"kind": "azure_subscription"}).content.decode()
    assert "Subscriptions" in form and "Tenant" in form
    data = {"kind": "azure_subscription", "name": "azure", "schedule_minutes": 1440}
    refused = client.post(url, {**data, "subscription_ids": "prod-subscription"}).content.decode()
    assert "Subscriptions: &#x27;prod-subscription&#x27; is not a subscription id" in refused and not Source.objects.exists()
    refused = client.post(url, data).content.decode()
    assert "Tenant: give the tenant id" in refused and not Source.objects.exists()
    client.post(url, {**data, "subscription_ids": f"{SUB}, {UNKNOWN.upper()}"})
    source = Source.objects.get(name="azure")
    assert source.kind == "azure_subscription" and source.subscription_ids == [SUB, UNKNOWN] and source.source_key == f"{SUB},{UNKNOWN}"
