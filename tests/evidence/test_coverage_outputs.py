"""ADR 0016 end to end: a sub-requirement its rules prove only in part keeps its rules' status and
carries the manual evidence status of the rest, the same in the evaluation, the posture page,
the API and every file of the pack (pack.json, XLSX, PDF, OSCAL)."""

import datetime as dt
import io
import json
import zipfile

import pypdf
import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from apps.catalog.models import Requirement
from apps.controls.services import control_create, control_evidence_attach, control_share
from apps.evaluation.models import RequirementStatus
from apps.evaluation.services import evaluation_run
from apps.evidence.builder import build_files
from apps.evidence.gather import gather
from tests.support.clients import api_as  # noqa: F401 - fixture
from tests.support.evidence import T2

pytestmark = pytest.mark.django_db
META = {"pack_id": "KT-TEST-0016", "built_at": "2026-11-23T12:00:00Z", "as_of": "x"}


@pytest.fixture
def evidenced_least_privilege(world, grc_lead, auditor):
    least = Requirement.objects.get(ref="9.2.4.07")
    control = control_create(
        actor=grc_lead, title="Secret-store review", owner=grc_lead, narrative="n", requirements=[least], test_frequency="annual"
    )
    control_evidence_attach(actor=grc_lead, control=control, name="review.txt", content=b"review", effective_date=timezone.now().date())
    control_share(actor=grc_lead, control=control, grantee=auditor, permissions=["view_control"])
    return least


def test_evaluation_api_and_page_show_what_proves_each_requirement(evidenced_least_privilege, api_as, client, grc_lead):
    evaluation = evaluation_run(now=timezone.now())
    statuses = {s.requirement.ref: s for s in RequirementStatus.objects.filter(evaluation=evaluation).select_related("requirement")}
    assert statuses["9.2.4.07"].manual_status == "evidenced"  # rules prove part, its control's evidence the rest
    assert statuses["9.2.4.18"].manual_status == "evidence_missing"  # no control for the manual part
    assert statuses["9.2.4.01"].manual_status == ""  # no rule: its status *is* the manual evidence status
    assert statuses["9.2.4.07"].status in {"pass", "fail", "not_assessed", "excepted"}

    rows = {r["ref"]: r for r in api_as(grc_lead).get(reverse("api:requirement-status-list")).json()["requirements"]}
    assert rows["9.2.4.07"]["coverage"] == "partial" and rows["9.2.4.07"]["manual_status"] == "evidenced"
    assert rows["9.2.4.07"]["rules_cover"].startswith("No Secrets Manager resource policy")
    assert rows["9.2.4.01"]["coverage"] == "manual" and rows["9.2.4.01"]["manual_evidence_for"].startswith("All of it")
    one = api_as(grc_lead).get(reverse("api:requirement-status-detail", args=["9.2.4.18"])).json()
    assert one["coverage"] == "partial" and "CloudTrail" in one["rules_cover"] and one["manual_status"] == "evidence_missing"

    client.force_login(grc_lead)
    page = client.get(reverse("evaluation:requirement", args=["9.2.4.07"])).content.decode()
    assert "Proven by rules" in page and "Manual evidence for" in page and "separation of secret administration" in page
    dashboard = client.get(reverse("evaluation:dashboard")).content.decode()
    assert "+ manual:" in dashboard


def test_every_pack_file_says_what_rules_prove_and_what_manual_evidence_shows(evidenced_least_privilege, world, tmp_path):
    data = gather(engagement=world["engagement"], as_of=T2 + dt.timedelta(hours=2), sample_size=2, sample_seed=1)
    files = build_files(data=data, workdir=tmp_path, meta={**META, "as_of": data.as_of})
    with zipfile.ZipFile(files.zip_path) as zf:
        pack = json.loads(zf.read("pack.json"))
        oscal = json.loads(zf.read("oscal-assessment-results.json"))
        wb = load_workbook(io.BytesIO(zf.read("pack.xlsx")), read_only=True)
        pdf = " ".join(" ".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(zf.read("pack.pdf"))).pages).split())

    reqs = {r["ref"]: r for r in pack["requirements"]}
    least = reqs["9.2.4.07"]
    assert least["coverage"] == "partial" and least["manual_status"] in {"evidenced", "evidence_missing"}
    assert least["rules_cover"].startswith("No Secrets Manager") and "pipelines" in least["manual_evidence_for"]
    assert reqs["9.2.4.01"]["coverage"] == "manual" and reqs["9.2.4.01"]["manual_status"] == ""

    rows = list(wb["sub-requirements"].iter_rows(values_only=True))
    header, by_ref = rows[0], {row[0]: row for row in rows[1:]}
    at = {name: header.index(name) for name in ("proven by", "rules prove", "manual evidence for", "manual evidence status")}
    assert by_ref["9.2.4.07"][at["proven by"]] == "partial"
    assert by_ref["9.2.4.07"][at["rules prove"]] == least["rules_cover"]
    assert by_ref["9.2.4.07"][at["manual evidence status"]] == least["manual_status"]

    findings = {f["target"]["target-id"]: f for f in oscal["assessment-results"]["results"][0]["findings"]}
    finding = findings["keytrail-9.2.4.07"]
    assert {"name": "coverage", "value": "partial"}.items() <= finding["props"][0].items()
    assert finding["remarks"].startswith("Proven by rules: No Secrets Manager") and "Manual evidence for:" in finding["remarks"]

    assert "Proven by rules" in pdf and "Manual evidence for" in pdf and "separation of secret administration" in pdf
