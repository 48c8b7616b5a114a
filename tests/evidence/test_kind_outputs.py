"""The other AWS credential kinds end to end: collected from moto's server (real HTTP), applied,
evaluated, then shown on the pages and in the API, and in the pack (JSON, XLSX sheets, PDF,
OSCAL) read back from the built files."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile

import pypdf
import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from apps.devtools.simulators.more_kinds import seed_more_kinds
from apps.evaluation.models import Finding
from apps.evaluation.services import evaluation_run
from apps.evidence.builder import build_files
from apps.evidence.gather import gather
from apps.evidence.renderers.oscal import oscal_document
from apps.evidence.services import engagement_create
from apps.inventory.models import Credential
from apps.inventory.services.collection import collection_start
from tests.support.clients import api_as  # noqa: F401 - the API client fixture
from tests.support.cloud import ACCOUNT_A, cloud, moto_server_url, register_sources  # noqa: F401

pytestmark = pytest.mark.django_db
NEW_KINDS = {"ssh_public_key", "service_credential", "signing_certificate", "server_certificate", "ssm_secure_string", "ssm_plaintext"}


@pytest.fixture
def collected(cloud, grc_lead, django_capture_on_commit_callbacks):
    seed_more_kinds(ACCOUNT_A, regions=["eu-west-1", "us-east-1"], seed=3, now=timezone.now())
    sources = register_sources(grc_lead, cloud)[:1]
    with django_capture_on_commit_callbacks(execute=True):
        run = collection_start(actor=grc_lead, sources=sources)
    run.refresh_from_db()
    assert run.status == "succeeded", [u.errors for u in run.units.all()]
    evaluation_run()
    return sources[0]


def test_every_new_kind_is_collected_evaluated_and_packed(collected, grc_lead, tmp_path):
    assert NEW_KINDS <= set(Credential.objects.values_list("credential_type", flat=True))
    failing = set(Finding.objects.filter(status="fail").values_list("rule_id", flat=True))
    assert {
        "ssh-key-rotation-age",
        "signing-certificate-human-active",
        "server-certificate-expiry",
        "ssm-parameter-not-changed",
        "ssm-plaintext-secret-name",
    } <= failing

    engagement = engagement_create(
        actor=grc_lead, name="kinds", period_start=dt.date(2026, 1, 1), period_end=dt.date(2026, 12, 31), sources=[collected]
    )
    data = gather(engagement=engagement, as_of=timezone.now(), sample_size=3, sample_seed=1)
    files = build_files(data=data, workdir=tmp_path, meta={"pack_id": "KT-KINDS", "built_at": data.as_of, "as_of": data.as_of})
    with zipfile.ZipFile(files.zip_path) as zf:
        pack = json.loads(zf.read("pack.json"))
        wb = load_workbook(io.BytesIO(zf.read("pack.xlsx")))
        pdf_text = "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(zf.read("pack.pdf"))).pages)

    # pack.json: each kind's own facts travel as details.
    params = [c for c in pack["credentials"] if c["credential_type"] == "ssm_secure_string"]
    assert params and all({"tier", "kms_key_id", "policies", "last_modified_user"} <= set(c["details"]) for c in params)
    assert any(c["details"]["tier"] == "Advanced" and c["expires_at"] for c in params)

    # XLSX: their own sheets, one row per credential, details as columns.
    sheet = wb["SSM parameters"]
    header = [c.value for c in sheet[1]]
    rows = [dict(zip(header, (c.value for c in row), strict=False)) for row in sheet.iter_rows(min_row=2)]
    assert len(rows) == sum(1 for c in pack["credentials"] if c["credential_type"] in ("ssm_secure_string", "ssm_plaintext"))
    assert {"tier", "KMS key", "parameter policies", "secret-like word in name"} <= set(header)
    assert any(r["name"] == "/northwind/legacy/smtp_password" and r["secret-like word in name"] == "password" for r in rows)
    certs = [[c.value for c in row] for row in wb["IAM server certificates"].iter_rows(min_row=2)]
    assert len(certs) == 2
    user_kinds = {row[2].value for row in wb["IAM user keys and certificates"].iter_rows(min_row=2)}
    assert user_kinds == {"ssh_public_key", "service_credential", "signing_certificate"}

    # PDF: the counts by type with their labels, SSM summary, server certificates by expiry.
    assert "SSM SecureString parameter" in pdf_text and "IAM server certificate" in pdf_text
    assert "IAM server certificates by expiry" in pdf_text and "northwind-web-2026" in pdf_text
    assert "SecureString parameters" in pdf_text and "values are never read" in pdf_text
    assert "KEYTRAIL-CANARY" not in pdf_text and "KEYTRAIL-CANARY" not in json.dumps(pack)

    # OSCAL: the new rules are observations whose failing subjects are the credentials.
    observations = {o["title"]: o for o in oscal_document(data)["assessment-results"]["results"][0]["observations"]}
    assert observations["ssm-plaintext-secret-name"]["types"] == ["finding"]
    assert any("smtp_password" in s["title"] for s in observations["ssm-plaintext-secret-name"]["subjects"])
    assert observations["server-certificate-expiry"]["subjects"]


def test_pages_and_api_show_the_new_kinds(collected, client, grc_lead, api_as):
    client.force_login(grc_lead)
    listing = client.get(reverse("inventory:credential_list"), {"credential_type": "ssm_secure_string"})
    assert listing.status_code == 200 and "/northwind/payments/partner-token" in listing.content.decode()
    param = Credential.objects.get(name="/northwind/payments/partner-token", scope="aws_ssm:eu-west-1")
    page = client.get(reverse("inventory:credential_detail", args=[param.pk])).content.decode()
    assert "SSM SecureString parameter" in page and "Advanced" in page and "Expiration" in page
    hostile = Credential.objects.filter(credential_type="ssm_secure_string", tags__has_key="note").first()
    assert hostile is not None
    page = client.get(reverse("inventory:credential_detail", args=[hostile.pk])).content.decode()
    assert "<script>alert('tag')</script>" not in page  # escaped when the corpus value is the script one

    api = api_as(grc_lead, scope="read")
    listed = api.get(reverse("api:credential-list"), {"credential_type": "server_certificate"}).json()
    assert listed["count"] == 2 and {r["credential_type"] for r in listed["results"]} == {"server_certificate"}
