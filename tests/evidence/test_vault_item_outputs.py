"""Key Vault keys and certificates end to end: collected from the HTTPS simulator with the real SDKs,
applied, evaluated, then shown in the inventory, findings, requirement status, an access review's
population, and the pack (JSON, XLSX sheets, PDF, OSCAL) read back from the built files. A vault
that refuses keys and certificates leaves those units failed and their rules not assessed, named."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile

import pypdf
import pytest
from azure.keyvault.certificates._shared import http_challenge_cache as certificate_challenges
from azure.keyvault.keys._shared import http_challenge_cache as key_challenges
from azure.keyvault.secrets._shared import http_challenge_cache as secret_challenges
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from apps.devtools.simulators.key_vault import KeyVaultSimulator, certificate_paths
from apps.devtools.simulators.organisation import seed_vault
from apps.devtools.simulators.vault_items import seed_vault_items
from apps.evaluation.models import Finding
from apps.evaluation.services import evaluation_run
from apps.evidence.builder import build_files
from apps.evidence.gather import gather
from apps.evidence.renderers.oscal import oscal_document
from apps.evidence.services import engagement_create
from apps.inventory.models import Credential, Source
from apps.inventory.services.collection import collection_start
from apps.inventory.services.sources import source_create
from apps.reviews.services.campaigns import campaign_create, campaign_start
from tests.support.clients import api_as  # noqa: F401 - the API client fixture
from tests.support.hostile import assert_no_formula_cells

pytestmark = pytest.mark.django_db
ITEM_RULES = {"kv-key-no-expiry", "kv-key-rotation-policy", "kv-certificate-expired-enabled", "kv-certificate-expiring-no-auto-renew"}


@pytest.fixture
def vault(settings):
    settings.AZURE_CREDENTIAL_CLASS = "apps.devtools.simulators.key_vault.SimulatorCredential"
    settings.AZURE_VERIFY_CHALLENGE_RESOURCE = False
    settings.AZURE_CONNECTION_VERIFY = certificate_paths()[0]
    settings.AZURE_RETRY_BACKOFF_FACTOR = 0.01
    settings.AZURE_RETRY_TOTAL = 1
    for cache in (secret_challenges, key_challenges, certificate_challenges):
        cache.clear()
    simulator = KeyVaultSimulator("kv-items").start()
    now = timezone.now()
    seed_vault(simulator, 5, seed=5, now=now, hostile=False)
    seed_vault_items(simulator, seed=5, now=now, extra=2)
    yield simulator
    assert simulator.violations == [], simulator.violations
    simulator.stop()


def _collect(actor, sources, capture):
    with capture(execute=True):
        run = collection_start(actor=actor, sources=sources)
    run.refresh_from_db()
    return run


@pytest.fixture
def collected(vault, grc_lead, django_capture_on_commit_callbacks):
    source = source_create(actor=grc_lead, name="kv-items", kind=Source.Kind.AZURE_KEY_VAULT, vault_url=vault.url)
    run = _collect(grc_lead, [source], django_capture_on_commit_callbacks)
    assert run.status == "succeeded", [u.errors for u in run.units.all()]
    assert sorted(run.units.values_list("connector", flat=True)) == [
        "azure_key_vault",
        "azure_key_vault_certificates",
        "azure_key_vault_keys",
    ]
    evaluation_run()
    return source


def test_keys_and_certificates_are_collected_evaluated_and_packed(collected, grc_lead, tmp_path):
    keys = Credential.objects.filter(credential_type="kv_key")
    certs = Credential.objects.filter(credential_type="kv_certificate")
    assert keys.count() == 8 and certs.count() == 7
    assert keys.get(name="orders-signing").rotation_interval_days == 90
    assert certs.get(name="www-example-com").attributes["issuer"] == "DigiCert"

    failing = {
        (f.rule_id, f.credential.name) for f in Finding.objects.filter(status="fail", credential__isnull=False).select_related("credential")
    }
    assert {
        ("kv-key-no-expiry", "tokens-hmac"),
        ("kv-key-rotation-policy", "legacy-wrap-key"),
        ("kv-key-rotation-policy", "backup-encryption"),
        ("kv-certificate-expired-enabled", "api-partner-mtls"),
        ("kv-certificate-expiring-no-auto-renew", "sftp-host"),
    } <= failing
    compliant = ("orders-signing", "ledger-cmk", "portal-example-com", "www-example-com", "retired-rsa", "old-intranet")
    assert not {(rule, name) for rule, name in failing if rule in ITEM_RULES and name in compliant}

    engagement = engagement_create(
        actor=grc_lead, name="vault items", period_start=dt.date(2026, 1, 1), period_end=dt.date(2026, 12, 31), sources=[collected]
    )
    data = gather(engagement=engagement, as_of=timezone.now(), sample_size=3, sample_seed=1)
    files = build_files(data=data, workdir=tmp_path, meta={"pack_id": "KT-KVITEMS", "built_at": data.as_of, "as_of": data.as_of})
    with zipfile.ZipFile(files.zip_path) as zf:
        pack = json.loads(zf.read("pack.json"))
        xlsx = zf.read("pack.xlsx")
        wb = load_workbook(io.BytesIO(xlsx))
        pdf_text = "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(zf.read("pack.pdf"))).pages)

    # pack.json: the kinds' own facts travel as details.
    packed_certs = {c["name"]: c for c in pack["credentials"] if c["credential_type"] == "kv_certificate"}
    assert packed_certs["sftp-host"]["details"]["auto_renew"] is False
    assert packed_certs["www-example-com"]["details"]["issuer"] == "DigiCert"
    packed_keys = {c["name"]: c for c in pack["credentials"] if c["credential_type"] == "kv_key"}
    assert packed_keys["legacy-wrap-key"]["details"]["rotation_policy"] == "absent"

    # XLSX: one sheet per kind, one row per credential, details as columns, no formula cells.
    def rows(title):
        sheet = wb[title]
        header = [c.value for c in sheet[1]]
        return header, [dict(zip(header, (c.value for c in row), strict=False)) for row in sheet.iter_rows(min_row=2)]

    header, key_rows = rows("Key Vault keys")
    assert {"rotation policy (Rotate action)", "rotation trigger", "policy expiry time"} <= set(header) and len(key_rows) == 8
    assert {r["name"]: r["rotation trigger"] for r in key_rows}["orders-signing"] == "P90D after creation"
    header, cert_rows = rows("Key Vault certificates")
    assert {"issuer", "auto-renew", "lifetime actions", "thumbprint (x5t)"} <= set(header) and len(cert_rows) == 7
    assert {r["name"]: r["auto-renew"] for r in cert_rows}["sftp-host"] in (False, "False", "no")
    assert_no_formula_cells(xlsx)

    # PDF: counts by type with their labels, the keys summary, the certificates by expiry.
    assert "Key Vault key" in pdf_text and "Key Vault certificate" in pdf_text
    assert "Key Vault certificates by expiry" in pdf_text and "api-partner-mtls" in pdf_text
    assert "keys themselves are never read" in " ".join(pdf_text.split())

    # OSCAL: the rules are observations whose failing subjects are the credentials.
    observations = {o["title"]: o for o in oscal_document(data)["assessment-results"]["results"][0]["observations"]}
    assert ITEM_RULES <= set(observations)
    assert any("sftp-host" in s["title"] for s in observations["kv-certificate-expiring-no-auto-renew"]["subjects"])


def test_pages_api_and_reviews_show_keys_and_certificates(collected, client, grc_lead, api_as):
    client.force_login(grc_lead)
    listing = client.get(reverse("inventory:credential_list"), {"credential_type": "kv_certificate"})
    assert listing.status_code == 200 and "api-partner-mtls" in listing.content.decode()
    cert = Credential.objects.get(name="sftp-host")
    page = client.get(reverse("inventory:credential_detail", args=[cert.pk])).content.decode()
    assert "Key Vault certificate" in page and "sftp-host" in page
    findings = client.get(reverse("evaluation:finding_list"), {"rule": "kv-certificate-expiring-no-auto-renew"})
    assert findings.status_code == 200

    api = api_as(grc_lead, scope="read")
    listed = api.get(reverse("api:credential-list"), {"credential_type": "kv_key"}).json()
    assert listed["count"] == 8 and {r["credential_type"] for r in listed["results"]} == {"kv_key"}

    # An access review over vault keys and certificates: each one is an item, reviewers by owner tag.
    campaign = campaign_create(
        actor=grc_lead,
        name="vault keys and certificates",
        scope={"credential_types": ["kv_key", "kv_certificate"]},
        due_date=timezone.now().date() + dt.timedelta(days=14),
        fallback_reviewer=grc_lead,
    )
    campaign = campaign_start(actor=grc_lead, campaign=campaign)
    assert campaign.items.count() == 15


def test_a_deleted_key_disappears_and_a_refusing_vault_leaves_its_rules_not_assessed(
    collected, vault, grc_lead, django_capture_on_commit_callbacks
):
    vault.keys.delete("tokens-hmac")
    run = _collect(grc_lead, [collected], django_capture_on_commit_callbacks)
    assert run.status == "succeeded"
    gone = Credential.objects.get(name="tokens-hmac")
    assert gone.disappeared_at is not None
    assert list(gone.events.values_list("kind", flat=True)) == ["appeared", "disappeared"]

    # Permission to list secrets only: the keys and certificates units fail, named, never pass.
    vault.refuse_keys = vault.refuse_certificates = True
    run = _collect(grc_lead, [collected], django_capture_on_commit_callbacks)
    assert run.status == "partial"
    failed = {u.connector: u.errors[-1]["code"] for u in run.units.filter(status="failed")}
    assert failed == {"azure_key_vault_keys": "auth_refused", "azure_key_vault_certificates": "auth_refused"}
    evaluation_run()
    coverage = Finding.objects.filter(rule_id="source-coverage").order_by("-pk").first()
    assert coverage.status == "fail" and "azure_key_vault_keys:" in coverage.reason and "azure_key_vault_certificates:" in coverage.reason
    from apps.evaluation.models import RuleResult

    for rule_id in ITEM_RULES:
        result = RuleResult.objects.filter(rule_id=rule_id).order_by("-pk").first()
        # Failures found in the last good collection still stand; nothing here may pass.
        assert result.covered is False and result.status in ("fail", "not_assessed"), (rule_id, result.status)
        assert vault.url in result.note and "latest collection failed" in result.note
