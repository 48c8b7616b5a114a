"""Every renderer reads the same gathered data; the tests open each produced file and read it back."""

import datetime as dt
import io
import json
import zipfile
from pathlib import Path

import jsonschema
import orjson
import pypdf
import pytest
from django.utils import timezone
from openpyxl import load_workbook

from apps.evidence.builder import SCHEMA_FILE, build_files
from apps.evidence.gather import gather
from apps.evidence.renderers.jsondata import json_bytes
from apps.evidence.renderers.oscal import oscal_document
from apps.evidence.renderers.pdf import PackURLFetcher, RefusedURL, render_html
from apps.evidence.renderers.xlsx import render_xlsx
from tests.support.evidence import CAMPAIGNS, FORMULA, HTML, T1, T2

pytestmark = pytest.mark.django_db
META = {"pack_id": "KT-TEST-0001", "built_at": "2026-11-23T12:00:00Z", "as_of": "x"}


def _data(world, as_of=None, **kw):
    data = gather(
        engagement=world["engagement"], as_of=as_of or timezone.now(), sample_size=kw.get("size", 3), sample_seed=kw.get("seed", 1)
    )
    return data


def _with_campaigns(data):
    # A hand-built campaign with hostile values goes through every renderer (tests/reviews/test_report.py
    # checks that the reviews app's real output has this shape).
    data.campaigns = CAMPAIGNS
    item, remediation = CAMPAIGNS[0]["items"][0], CAMPAIGNS[0]["remediation"][0]
    data.sample["items"][0]["review_decisions"] = [
        {
            "campaign_id": CAMPAIGNS[0]["id"],
            "campaign": CAMPAIGNS[0]["name"],
            "item_id": item["id"],
            "decision": item["decision"],
            "justification": item["justification"],
            "decided_at": item["decided_at"],
            "decided_by": item["decided_by"],
            "flagged": item["flagged"],
            "remediation": remediation,
        }
    ]
    return data


@pytest.fixture
def built(world, tmp_path):
    data = _with_campaigns(_data(world))
    files = build_files(data=data, workdir=tmp_path, meta={**META, "as_of": data.as_of})
    return data, files


def test_the_zip_holds_every_file_and_the_json_matches_its_schema(built):
    data, files = built
    with zipfile.ZipFile(files.zip_path) as zf:
        assert sorted(zf.namelist()) == [
            "manifest.json",
            "oscal-assessment-results.json",
            "pack.json",
            "pack.pdf",
            "pack.schema.json",
            "pack.xlsx",
        ]
        pack = orjson.loads(zf.read("pack.json"))
        schema = json.loads(zf.read("pack.schema.json"))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(pack, schema, format_checker=jsonschema.FormatChecker())
    assert pack["campaigns"][0]["items"][1]["subject"] == "=cmd|' /C calc'!A0"
    assert {c["name"] for c in pack["credentials"]} == {"AKIAROTATED0001", "AKIADISABLED001", HTML}


def test_the_schema_refuses_a_pack_missing_a_population(built):
    data, _ = built
    broken = {k: v for k, v in orjson.loads(json_bytes(data.as_dict())).items() if k != "credentials"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, json.loads(SCHEMA_FILE.read_text()))


def test_xlsx_cells_read_back_with_formulas_kept_as_text(built):
    data, files = built
    with zipfile.ZipFile(files.zip_path) as zf:
        wb = load_workbook(io.BytesIO(zf.read("pack.xlsx")))
    assert wb.sheetnames == [
        "summary",
        "sub-requirements",
        "findings",
        "credential inventory",
        "IAM user keys and certificates",  # a kind's own sheet is there even when it is empty
        "IAM server certificates",
        "SSM parameters",
        "Key Vault keys",
        "Key Vault certificates",
        "Entra ID app credentials",
        "identities",
        "exceptions",
        "reviews and decisions",
        "remediation",
        "collection runs",
        "sample",
        "audit extract",
    ]
    inv = wb["credential inventory"]
    assert inv.freeze_panes == "A2" and inv.auto_filter.ref == f"A1:Q{len(data.credentials) + 1}"
    header = [c.value for c in inv[1]]
    assert header.index("last used as of (report generated)") == header.index("last used") + 1
    rows = {r[header.index("name")].value: r for r in inv.iter_rows(min_row=2)}
    hostile = rows[HTML]
    owner = hostile[header.index("owner")]
    assert owner.value == FORMULA and owner.data_type == "s" and owner.quotePrefix  # text, not a formula
    assert "+cmd" in hostile[header.index("tags")].value and hostile[header.index("tags")].data_type == "s"
    created = hostile[header.index("created")]
    assert created.is_date and created.value.year == 2025 and created.number_format == "yyyy-mm-dd hh:mm"
    assert inv.column_dimensions["E"].width == 36
    reviews = wb["reviews and decisions"]
    assert reviews.max_row == 3
    subjects = [r[7] for r in reviews.iter_rows(min_row=2)]
    assert subjects[1].value == "=cmd|' /C calc'!A0" and subjects[1].data_type == "s"
    remediation = list(wb["remediation"].iter_rows(min_row=2, values_only=True))
    assert remediation[0][4] == "rotate" and "verified run 2" in remediation[0][10]
    sample = wb["sample"]
    assert sample.max_row == 4 and "rotate by rosa" in (sample.cell(row=2, column=14).value or "")


def test_pdf_text_reads_back_with_page_numbers_toc_and_escaped_values(built):
    data, files = built
    with zipfile.ZipFile(files.zip_path) as zf:
        reader = pypdf.PdfReader(io.BytesIO(zf.read("pack.pdf")))
    pages = [p.extract_text() for p in reader.pages]
    text = "\n".join(pages)
    assert 5 < len(pages) < 60
    assert "FY2026 ISO 27017 audit" in pages[0] and "KT-TEST-0001" in pages[0]
    assert f"Page 2 of {len(pages)}" in pages[1] and "Pack KT-TEST-0001" in pages[1]
    assert "Contents" in pages[1] and "Exception register" in pages[1]
    for heading in (
        "Executive summary",
        "Key age by credential type",
        "Posture over the period",
        "Collection coverage",
        "Sample of credentials traced",
        "Audit trail extract",
        "Q1 privileged keys",
    ):
        assert heading in text
    assert HTML in text  # rendered as text, not markup
    assert "rotate" in text and "verified" in text


def test_pdf_html_escapes_everything_and_fetches_only_its_assets(built):
    data, _ = built
    html = render_html(data, pack_id="KT-1", built_at=data.as_of)
    assert "<script>alert" not in html and "&lt;script&gt;alert" in html
    assert "&lt;b&gt;needed&lt;/b&gt;" in html
    refs = [line for line in html.split() if line.startswith(("href=", "src="))]
    assert all("keytrail-asset:" in r or r.startswith('href="#') for r in refs), refs


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "http://127.0.0.1:9/x.css",
        "https://example.com/font.woff",
        "data:text/css,body{}",
        "ftp://example.com/x",
        "keytrail-asset:../../etc/passwd",
    ],
)
def test_the_url_fetcher_refuses_everything_but_its_own_assets(url):
    fetcher = PackURLFetcher({"pack.css": (b"body{}", "text/css")})
    with pytest.raises(RefusedURL):
        fetcher.fetch(url)
    assert fetcher.refused == [url]
    assert fetcher.fetch("keytrail-asset:pack.css").read() == b"body{}"


def test_a_hostile_stylesheet_link_in_the_html_is_not_fetched(tmp_path):
    from weasyprint import HTML as Doc

    secret = tmp_path / "secret.css"
    secret.write_text("body { background: red }")
    fetcher = PackURLFetcher({})
    Doc(
        string=f'<link rel="stylesheet" href="file://{secret}"><img src="http://127.0.0.1:9/x.png"><p>x</p>',
        base_url="keytrail-asset:",
        url_fetcher=fetcher,
    ).write_pdf(str(tmp_path / "x.pdf"))
    assert f"file://{secret}" in fetcher.refused and "http://127.0.0.1:9/x.png" in fetcher.refused


def test_oscal_assessment_results_validate_against_the_oscal_models(built):
    from trestle.oscal.assessment_results import AssessmentResults

    data, files = built
    with zipfile.ZipFile(files.zip_path) as zf:
        doc = orjson.loads(zf.read("oscal-assessment-results.json"))
    model = AssessmentResults.parse_obj(doc["assessment-results"])
    result = model.results[0]
    root = lambda v: str(getattr(v, "__root__", v))  # noqa: E731 - trestle wraps constrained strings
    assert root(model.metadata.oscal_version) == "1.1.3"
    failing = {root(f.target.target_id) for f in result.findings if f.target.status.state.value == "not-satisfied"}
    assert {f"keytrail-{r['ref']}" for r in data.requirements if r["status"] == "fail"} <= failing
    assert any(o.subjects for o in result.observations)
    broken = json.loads(json.dumps(doc["assessment-results"]))
    broken["results"][0]["findings"][0]["target"]["status"]["state"] = "fine"
    with pytest.raises(Exception, match="state"):
        AssessmentResults.parse_obj(broken)


def test_same_time_same_json_hash_and_the_past_is_the_past(world):
    now = timezone.now()
    first, second = json_bytes(_data(world, now).as_dict()), json_bytes(_data(world, now).as_dict())
    assert first == second
    assert oscal_document(_data(world, now)) == oscal_document(_data(world, now))
    before = _data(world, T1 + (T2 - T1) / 2)
    by_name = {c["name"]: c for c in before.credentials}
    assert by_name["AKIADISABLED001"]["enabled"] is True  # deactivated only at T2
    assert by_name["AKIAROTATED0001"]["last_rotated_at"].startswith("2025-01-01")
    assert before.evaluation is None  # the evaluation came after
    after = {c["name"]: c for c in _data(world, now).credentials}
    assert after["AKIADISABLED001"]["enabled"] is False


def test_the_sample_is_reproducible_and_traces_the_lifecycle(world):
    now = timezone.now()
    a = _data(world, now, size=2, seed=42).sample
    b = _data(world, now, size=2, seed=42).sample
    assert a == b and len(a["items"]) == 2 and a["population"] == 3
    full = {i["name"]: i for i in _data(world, now, size=3, seed=1).sample["items"]}
    rotated = full["AKIAROTATED0001"]
    assert [e["kind"] for e in rotated["events"]] == ["appeared", "rotated"] and rotated["rotations"] == 1
    assert len(rotated["versions"]) == 2 and rotated["owner"] == "alice@example.test"
    assert full["AKIADISABLED001"]["revoked_at"] == T2.isoformat().replace("+00:00", "Z")


def test_render_xlsx_alone_streams_a_large_population(tmp_path, world):
    data = _data(world)
    template = next(iter(data.credentials))
    data.credentials = [{**template, "id": i, "name": f"k{i}", "tags": {"owner": "=1+1"}} for i in range(5000)]
    render_xlsx(data, tmp_path / "big.xlsx")
    wb = load_workbook(tmp_path / "big.xlsx", read_only=True)
    assert sum(1 for _ in wb["credential inventory"].iter_rows()) == 5001
    assert Path(tmp_path / "big.xlsx").stat().st_size < 2_000_000


def test_manual_evidence_requirements_say_the_same_words_in_every_file(world, grc_lead, auditor, tmp_path):
    """A requirement no rule tests is evidenced, evidence stale or evidence missing for the audit
    period, from its controls' evidence: the same in pack.json, the XLSX, the PDF and OSCAL."""
    from apps.catalog.models import Requirement
    from apps.controls.services import control_create, control_evidence_attach, control_share

    manual = list(Requirement.objects.filter(rule_ids=[]).order_by("position")[:3])
    assert len(manual) == 3
    today = timezone.now().date()
    fresh = control_create(actor=grc_lead, title="Policy", owner=grc_lead, narrative="n", requirements=[manual[0]], test_frequency="annual")
    control_evidence_attach(actor=grc_lead, control=fresh, name="policy.txt", content=b"policy", effective_date=today)
    aged = control_create(
        actor=grc_lead, title="Training", owner=grc_lead, narrative="n", requirements=[manual[1]], test_frequency="monthly"
    )
    control_evidence_attach(actor=grc_lead, control=aged, name="t.csv", content=b"a,b\n1,2\n", effective_date=today - dt.timedelta(days=60))
    for control in (fresh, aged):  # a pack shows its auditors only the controls shared with them
        control_share(actor=grc_lead, control=control, grantee=auditor, permissions=["view_control"])
    expected = {manual[0].ref: "evidenced", manual[1].ref: "evidence_stale", manual[2].ref: "evidence_missing"}

    data = _data(world)
    files = build_files(data=data, workdir=tmp_path, meta={**META, "as_of": data.as_of})
    with zipfile.ZipFile(files.zip_path) as zf:
        pack = json.loads(zf.read("pack.json"))
        oscal = json.loads(zf.read("oscal-assessment-results.json"))
        wb = load_workbook(io.BytesIO(zf.read("pack.xlsx")), read_only=True)
        pdf = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(zf.read("pack.pdf"))).pages)
    statuses = {r["ref"]: r["status"] for r in pack["requirements"]}
    assert {ref: statuses[ref] for ref in expected} == expected
    assert "manual" not in statuses.values()
    sheet = {row[0]: row[3] for row in wb["sub-requirements"].iter_rows(min_row=2, values_only=True)}
    assert {ref: sheet[ref] for ref in expected} == expected
    findings = {f["target"]["target-id"]: f["target"]["status"] for f in oscal["assessment-results"]["results"][0]["findings"]}
    by_ref = {ref: findings[f"keytrail-{ref}"] for ref in expected}
    assert by_ref[manual[0].ref]["state"] == "satisfied" and by_ref[manual[0].ref]["remarks"].startswith("evidenced")
    assert by_ref[manual[1].ref]["state"] == "not-satisfied" and by_ref[manual[1].ref]["remarks"].startswith("evidence stale")
    assert by_ref[manual[2].ref]["state"] == "not-satisfied" and by_ref[manual[2].ref]["remarks"].startswith("evidence missing")
    flat = " ".join(pdf.split())
    for ref, status in expected.items():
        assert f"{ref} " in flat and status.replace("_", " ") in flat


@pytest.mark.parametrize("value", ['\uff1dHYPERLINK("http://evil.example","x")', "\uff0b1+1", "\uff0d1+1", "\uff20SUM(1)", "=1+1", "+1"])
def test_full_width_formula_characters_are_quoted_text_in_the_xlsx(tmp_path, value):
    """Issue #19 item 11: a full-width ＝ at the start of a cell was not formula-prefixed."""
    from openpyxl import Workbook

    from apps.evidence.renderers.xlsx import TEXT, _Sheet

    wb = Workbook(write_only=True)
    sheet = _Sheet(wb, "t", [("value", 10, TEXT)])
    sheet.write([[value]])
    wb.save(tmp_path / "t.xlsx")
    cell = load_workbook(tmp_path / "t.xlsx")["t"]["A2"]
    assert cell.value == value and cell.data_type == "s" and cell.quotePrefix
