"""An Entra ID tenant end to end: registered, collected from the Graph simulator over HTTPS,
applied, evaluated; its application owners are the reviewers of its credentials; the pack
(JSON, XLSX sheet, PDF, OSCAL) is read back from the built files. No hint is stored anywhere."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile

import pypdf
import pytest
from django.utils import timezone
from openpyxl import load_workbook

from apps.accounts.roles import Role
from apps.devtools.simulators.graph import MICROSOFT_TENANT_ID, GraphSimulator, key_credential, password_credential
from apps.devtools.simulators.key_vault import certificate_paths
from apps.evaluation.models import Finding
from apps.evaluation.services import evaluation_run
from apps.evidence.builder import build_files
from apps.evidence.gather import gather
from apps.evidence.renderers.oscal import oscal_document
from apps.evidence.services import engagement_create
from apps.inventory.models import Credential, CredentialVersion, Identity
from apps.inventory.services.collection import collection_start
from apps.inventory.services.sources import source_create
from tests.factories import make_user
from tests.support.clients import api_as  # noqa: F401 - the API client fixture
from tests.support.hostile import assert_no_formula_cells

pytestmark = pytest.mark.django_db
HINT = "Zq~"


@pytest.fixture
def graph(settings):
    settings.AZURE_CREDENTIAL_CLASS = "apps.devtools.simulators.key_vault.SimulatorCredential"
    settings.AZURE_CONNECTION_VERIFY = certificate_paths()[0]
    settings.AZURE_RETRY_TOTAL = 2
    settings.AZURE_RETRY_BACKOFF_FACTOR = 0.01
    simulator = GraphSimulator().start()
    now = timezone.now()
    long_lived = password_credential("two years", start=now - dt.timedelta(days=20), days=730)
    long_lived["hint"] = HINT
    overlap = password_credential("overlap")
    simulator.add_application("payments-api", owners=["owner@example.test"], passwords=[long_lived, overlap])
    simulator.add_application(
        "legacy-batch",
        owners=["owner@example.test"],
        passwords=[password_credential("expired", start=now - dt.timedelta(days=200), days=100)],
        keys=[key_credential("CN=legacy", start=now - dt.timedelta(days=10))],
    )
    simulator.add_application('=HYPERLINK("http://evil.example","x")', owners=[], passwords=[password_credential("orphan")])
    simulator.add_service_principal(
        "vendor-sync",
        app_owner_organization_id=MICROSOFT_TENANT_ID,
        passwords=[password_credential("vendor", start=now - dt.timedelta(days=150), days=365)],
    )
    yield simulator
    assert simulator.violations == []
    simulator.stop()


@pytest.fixture
def collected(graph, grc_lead, django_capture_on_commit_callbacks):
    source = source_create(actor=grc_lead, name="tenant", kind="entra_tenant", graph_tenant_id=graph.tenant_id, graph_url=graph.url)
    with django_capture_on_commit_callbacks(execute=True):
        run = collection_start(actor=grc_lead, sources=[source])
    run.refresh_from_db()
    assert run.status == "succeeded", [u.errors for u in run.units.all()]
    evaluation_run()
    return source


def test_collected_evaluated_owned_and_hint_free(collected):
    assert Credential.objects.filter(source=collected).count() == 6
    payments = Credential.objects.get(name="two years")
    assert payments.owner == "owner@example.test" and payments.identity.name == "payments-api"
    assert Identity.objects.get(name="payments-api").owner == "owner@example.test"
    stored = json.dumps(list(CredentialVersion.objects.values_list("data", flat=True))) + json.dumps(
        list(Credential.objects.values_list("attributes", flat=True))
    )
    assert HINT not in stored and '"hint"' not in stored

    failing = set(Finding.objects.filter(status="fail").values_list("rule_id", flat=True))
    assert {
        "entra-secret-lifetime-too-long",  # the two-year secret
        "entra-credential-expired-present",
        "entra-app-no-owner",
        "entra-foreign-app-credential-age",  # started 150 days ago, third-party limit 90
        "entra-app-multiple-secrets",  # payments-api: two live secrets
    } <= failing
    lifetime = Finding.objects.filter(rule_id="entra-secret-lifetime-too-long", status="fail").values_list("reason", flat=True)
    # (each evaluation keeps its own findings: a set over them)
    assert {r.split(" is valid")[0] for r in lifetime} == {
        "client secret 'two years' of application payments-api",
        "client secret 'vendor' of service principal vendor-sync",
    }


def test_owners_are_the_reviewers(collected, grc_lead):
    from apps.reviews.services import campaign_create, campaign_start

    owner = make_user(Role.REVIEWER, username="app-owner", email="owner@example.test")
    fallback = make_user(Role.REVIEWER, username="fallback", email="security@example.test")
    draft = campaign_create(
        actor=grc_lead,
        name="apps",
        scope={"source_ids": [collected.pk]},
        due_date=timezone.now().date() + dt.timedelta(days=14),
        fallback_reviewer=fallback,
    )
    campaign = campaign_start(actor=grc_lead, campaign=draft)
    items = {i.credential.name: i for i in campaign.items.select_related("credential", "reviewer")}
    assert items["two years"].reviewer == owner and items["two years"].assigned_by_rule == "credential_owner"
    assert items["CN=legacy"].reviewer == owner
    assert items["orphan"].reviewer == fallback and items["vendor"].reviewer == fallback


def test_the_pack_carries_the_entra_credentials(collected, grc_lead, tmp_path):
    engagement = engagement_create(
        actor=grc_lead, name="entra", period_start=dt.date(2026, 1, 1), period_end=dt.date(2026, 12, 31), sources=[collected]
    )
    data = gather(engagement=engagement, as_of=timezone.now(), sample_size=3, sample_seed=1)
    files = build_files(data=data, workdir=tmp_path, meta={"pack_id": "KT-ENTRA", "built_at": data.as_of, "as_of": data.as_of})
    with zipfile.ZipFile(files.zip_path) as zf:
        pack_bytes = zf.read("pack.json")
        xlsx = zf.read("pack.xlsx")
        pdf_text = "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(zf.read("pack.pdf"))).pages)
    pack = json.loads(pack_bytes)
    assert HINT.encode() not in pack_bytes

    entra = [c for c in pack["credentials"] if c["credential_type"].startswith("entra_")]
    assert len(entra) == 6 and all({"object_type", "app_id", "owners", "key_id"} <= set(c["details"]) for c in entra)
    assert next(c for c in entra if c["name"] == "two years")["owner"] == "owner@example.test"  # as of the pack's time
    assert next(c for c in entra if c["name"] == "orphan")["owner"] == ""
    vendor = next(c for c in entra if c["name"] == "vendor")
    assert vendor["details"]["foreign_tenant"] is True and vendor["details"]["app_owner_organization_id"] == MICROSOFT_TENANT_ID

    wb = load_workbook(io.BytesIO(xlsx))
    sheet = wb["Entra ID app credentials"]
    header = [c.value for c in sheet[1]]
    rows = [dict(zip(header, (c.value for c in row), strict=False)) for row in sheet.iter_rows(min_row=2)]
    assert len(rows) == 6 and {"owners", "owning tenant", "another tenant's application", "key id"} <= set(header)
    assert_no_formula_cells(xlsx)  # the hostile application name stays text

    assert "Entra ID client secret" in pdf_text and "Entra ID applications and service principals" in pdf_text
    assert "no value or hint is ever kept" in pdf_text

    observations = {o["title"]: o for o in oscal_document(data)["assessment-results"]["results"][0]["observations"]}
    assert observations["entra-credential-expired-present"]["types"] == ["finding"]
    assert any("expired" in s["title"] for s in observations["entra-credential-expired-present"]["subjects"])
    assert observations["entra-foreign-app-credential-age"]["subjects"]


def test_pages_and_api_show_the_tenant_and_its_credentials(collected, client, grc_lead, api_as):
    from django.urls import reverse

    from tests.support.hostile import assert_escaped_html

    client.force_login(grc_lead)
    source_page = client.get(reverse("inventory:source_detail", args=[collected.pk]))
    assert source_page.status_code == 200
    body = source_page.content.decode()
    assert "Entra ID tenant" in body and collected.graph_tenant_id in body
    listing = client.get(reverse("inventory:credential_list"), {"credential_type": "entra_client_secret"})
    assert listing.status_code == 200 and "two years" in listing.content.decode()
    assert_escaped_html(listing)
    orphan = Credential.objects.get(name="orphan")
    detail = client.get(reverse("inventory:credential_detail", args=[orphan.pk]))
    assert detail.status_code == 200
    assert_escaped_html(detail, ['=HYPERLINK("http://evil.example","x")'])
    assert "Entra ID client secret" in detail.content.decode()

    api = api_as(grc_lead, scope="read")
    listed = api.get(reverse("api:credential-list"), {"credential_type": "entra_certificate"}).json()
    assert listed["count"] == 1 and listed["results"][0]["name"] == "CN=legacy"
    source = api.get(reverse("api:source-detail", args=[collected.pk])).json()
    assert source["kind"] == "entra_tenant" and source["graph_tenant_id"] == collected.graph_tenant_id


def test_a_tenant_that_refuses_keytrail_is_not_assessed_never_a_pass(graph, grc_lead, django_capture_on_commit_callbacks):
    from apps.evaluation.models import RuleResult

    graph.refuse_tokens = True  # keytrail's identity lacks Application.Read.All
    source = source_create(actor=grc_lead, name="refusing", kind="entra_tenant", graph_tenant_id=graph.tenant_id, graph_url=graph.url)
    with django_capture_on_commit_callbacks(execute=True):
        run = collection_start(actor=grc_lead, sources=[source])
    unit = run.units.get()
    assert unit.status == "failed" and "Application.Read.All" in str(unit.errors)
    evaluation = evaluation_run()
    results = {r.rule_id: r for r in RuleResult.objects.filter(evaluation=evaluation, rule_id__startswith="entra-")}
    assert len(results) == 5
    assert all(r.status == "not_assessed" and not r.covered for r in results.values()), [
        (r.rule_id, r.status, r.note) for r in results.values()
    ]


def test_the_command_line_registers_a_tenant(grc_lead):
    from io import StringIO

    from django.core.management import call_command

    from apps.inventory.models import Source

    out = StringIO()
    tenant = "72F988BF-86F1-41AF-91AB-2D7CD011DB47"
    call_command("add_source", "--as", grc_lead.username, "--name", "cli", "--graph-tenant-id", tenant, stdout=out)
    source = Source.objects.get(name="cli")
    assert (source.kind, source.graph_tenant_id, source.source_key) == ("entra_tenant", tenant.lower(), tenant.lower())
    assert "https://graph.microsoft.com (tenant 72f988bf" in out.getvalue()
