"""The bad-input corpus through every export: the evidence pack's PDF, XLSX, JSON and OSCAL,
and the REST API's JSON.

The hostile values enter the way real data does: as the names and tag values of
credentials and identities applied by a collection (``inventory_apply``, the inventory's one
write path), as exception justifications (``exception_request``), control narratives
(``control_create``) and access-review justifications (``items_decide``). One pack is built
with all of them at once (``pack_request`` + ``pack_build``, the worker's code path) and
read back file by file: that build is the module's fixture, so it runs once.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile

import jsonschema
import pypdf
import pytest
from django.db import transaction
from django.utils import timezone
from openpyxl import load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from apps.catalog.models import Requirement
from apps.connectors.base import CollectionResult, CredentialRecord, IdentityRecord, Target
from apps.core.errors import ValidationFailed
from apps.evaluation.services import evaluation_run
from apps.evidence.builder import SCHEMA_FILE
from apps.evidence.models import Pack
from apps.evidence.renderers.xlsx import MAX_CELL
from apps.evidence.services import engagement_create, engagement_share, pack_build, pack_request
from apps.evidence.templatetags.evidence_pdf import PDF_TEXT_MAX
from apps.inventory.models import CollectionRun, Credential, Source
from apps.inventory.services.apply import MAX_NAME_BYTES, inventory_apply, name_too_long
from tests.factories import CollectionRunFactory, CollectionUnitFactory, SourceFactory
from tests.support.hostile import TEXT, assert_json_faithful, assert_no_formula_cells, expected_stored
from tests.support.ledger import record_hostile

# One worker builds the module-scoped pack once (pytest-xdist --dist loadgroup).
pytestmark = [pytest.mark.hostile, pytest.mark.xdist_group("hostile_exports")]

ACCOUNT = "123456789012"
KEYS = list(TEXT)
# Names longer than the inventory's list indexes can hold (MAX_NAME_BYTES; no cloud allows
# them) are refused as items by the collection; their values still reach every export as tag
# values, justifications and narratives.
LONG_NAMES = {k for k in KEYS if name_too_long(TEXT[k])}
# What a form hands the services (exceptions, controls, reviews are entered through forms):
# NUL is refused by every form (tests/test_nul_refused.py), undecodable bytes arrive as U+FFFD,
# leading and trailing whitespace is stripped.
FORM_TEXT = {k: v.encode("utf-8", "surrogateescape").decode("utf-8", "replace").strip() for k, v in TEXT.items() if "\x00" not in v}


def _ext(i: int) -> str:
    return f"AKIAHOSTILE{i:05d}"


def _user(i: int) -> str:
    return f"arn:aws:iam::{ACCOUNT}:user/hostile-{i}"


@pytest.fixture(scope="module")
def hostile_pack(django_db_setup, django_db_blocker):
    """Every corpus value entered through the real write paths, one pack built from them.
    Module-scoped: the data is committed once, and flushed afterwards as a transactional
    test's is."""
    try:
        with django_db_blocker.unblock():
            built = _build()
        yield built
    finally:
        with django_db_blocker.unblock():
            # What a transactional test does after itself: the committed rows go.
            from django.core.management import call_command

            call_command("flush", interactive=False, verbosity=0)


def _build() -> dict:
    from apps.accounts.roles import Role
    from apps.controls.services import control_create, control_share
    from apps.exceptions_register.services import exception_request
    from apps.reviews.models import ReviewItem
    from apps.reviews.services import campaign_create, campaign_start, items_decide
    from tests.factories import make_user

    call_seed_catalog()
    grc = make_user(Role.GRC_LEAD, username="hx-grc", email="hx-grc@example.test")
    fallback = make_user(Role.REVIEWER, username="hx-fallback", email="hx-fallback@example.test")
    # A pack shows its auditors only the controls shared with them (docs/evidence-packs.md).
    auditor = make_user(Role.AUDITOR, username="hx-auditor", email="hx-auditor@example.test")
    source = SourceFactory(
        name="hostile-exports",
        kind=Source.Kind.AWS_ACCOUNT,
        aws_account_id=ACCOUNT,
        role_arn=f"arn:aws:iam::{ACCOUNT}:role/audit",
        regions=[],
        created_by=grc,
    )
    at = timezone.now() - dt.timedelta(hours=2)
    run = CollectionRunFactory(status=CollectionRun.Status.SUCCEEDED, started_at=at, finished_at=at)
    unit = CollectionUnitFactory(
        run=run, source=source, connector="aws_iam", scope="aws_iam", status="succeeded", attempts=1, started_at=at, finished_at=at
    )
    identities = [
        IdentityRecord(_user(i), TEXT[k], "human", tags={"owner": TEXT[k], "team": TEXT[k]}, mfa_active=False) for i, k in enumerate(KEYS)
    ]
    credentials = [
        CredentialRecord(
            _ext(i),
            "access_key",
            TEXT[k],
            identity_external_id=_user(i),
            enabled=True,
            created_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
            last_rotated_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
            tags={"description": TEXT[k], "cost-centre": TEXT[k]},
        )
        for i, k in enumerate(KEYS)
    ]
    result = CollectionResult(
        target=Target(kind="aws_iam", source_key=ACCOUNT), identities=identities, credentials=credentials, facts={"password_policy": None}
    )
    with transaction.atomic():
        inventory_apply(unit=unit, result=result, taken_at=at)
    apply_errors = list(result.errors)
    evaluation_run(now=timezone.now() - dt.timedelta(hours=1))

    refused: dict[str, list[str]] = {"exception": [], "control": [], "review": []}
    requirement = Requirement.objects.order_by("position").first()
    for k in KEYS:
        if k not in FORM_TEXT:
            for kind in refused:
                refused[kind].append(k)
            continue
        try:
            exception_request(
                actor=grc,
                title=f"hostile {k}",
                rule_ids=["iam-key-rotation-age"],
                scope={"source_ids": [source.pk]},
                justification=FORM_TEXT[k],
                compensating_controls=FORM_TEXT[k],
                risk="medium",
                owner=grc,
                expires_on=timezone.now().date() + dt.timedelta(days=30),
            )
        except ValidationFailed:
            refused["exception"].append(k)
        try:
            control = control_create(actor=grc, title=f"hostile {k}", owner=grc, narrative=FORM_TEXT[k], requirements=[requirement])
            control_share(actor=grc, control=control, grantee=auditor, permissions=["view_control"])
        except ValidationFailed:
            refused["control"].append(k)
    draft = campaign_create(
        actor=grc,
        name="hostile review",
        scope={"source_ids": [source.pk]},
        due_date=timezone.now().date() + dt.timedelta(days=14),
        fallback_reviewer=fallback,
    )
    campaign = campaign_start(actor=grc, campaign=draft)
    for item in ReviewItem.objects.filter(campaign=campaign).select_related("credential", "reviewer"):
        k = KEYS[int(item.credential.external_id.removeprefix("AKIAHOSTILE"))]
        if k not in FORM_TEXT:
            continue
        try:
            with transaction.atomic():
                items_decide(actor=item.reviewer, campaign=campaign, item_ids=[item.pk], decision="keep", justification=FORM_TEXT[k])
        except ValidationFailed:
            refused["review"].append(k)

    engagement = engagement_create(
        actor=grc,
        name=TEXT["html_script"],
        period_start=dt.date(2026, 1, 1),
        period_end=dt.date(2026, 12, 31),
        sources=[source],
        requirements=[],
    )
    engagement_share(actor=grc, engagement=engagement, grantee=auditor)
    pack = pack_request(actor=grc, engagement=engagement, sample_size=len(KEYS) * 2, sample_seed=1)
    pack = pack_build(pack_pk=pack.pk)
    assert pack.state == Pack.State.SUCCEEDED, pack.error
    with pack.file.open("rb") as fh:
        raw = fh.read()
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        files = {name: zf.read(name) for name in zf.namelist()}
    return {"files": files, "refused": refused, "pack": pack, "apply_errors": apply_errors}


def call_seed_catalog():
    from apps.catalog.loader import read_catalog
    from apps.catalog.services import catalog_load

    if not Requirement.objects.exists():
        catalog_load(data=read_catalog())


def _stored(k: str) -> str:
    """What the inventory keeps for TEXT[k]: tag values and names as sent, up to storable()."""
    return expected_stored(TEXT[k])


def _strings(node, out: list[str]) -> list[str]:
    if isinstance(node, str):
        out.append(node)
    elif isinstance(node, dict):
        for key, value in node.items():
            _strings(key, out)
            _strings(value, out)
    elif isinstance(node, list):
        for value in node:
            _strings(value, out)
    return out


def test_the_inventory_stored_the_corpus_faithfully(hostile_pack, django_db_blocker):
    with django_db_blocker.unblock():
        stored = {c.external_id: c for c in Credential.objects.filter(external_id__startswith="AKIAHOSTILE")}
    assert LONG_NAMES == {"big_10k", "big_1m"}
    errors = {(e.get("code"), e.get("item")): e.get("message", "") for e in hostile_pack["apply_errors"]}
    for i, k in enumerate(KEYS):
        if k in LONG_NAMES:
            assert _ext(i) not in stored
            assert f"credential name longer than {MAX_NAME_BYTES} bytes" in errors[("invalid_item", _ext(i))]
            assert f"identity name longer than {MAX_NAME_BYTES} bytes" in errors[("invalid_item", _user(i))]
            continue
        assert stored[_ext(i)].name == _stored(k)
        assert stored[_ext(i)].tags["description"] == _stored(k)
    record_hostile(
        "inventory apply: credential and identity names, tag values (export fixture)", "stored", (len(KEYS) - len(LONG_NAMES)) * 4
    )
    record_hostile("inventory apply: names over the list indexes' limit (export fixture)", "refused as items", len(LONG_NAMES) * 2)


def test_pack_json_is_faithful_and_valid_against_its_schema(hostile_pack):
    document = hostile_pack["files"]["pack.json"]
    data = json.loads(document)
    jsonschema.validate(data, json.loads(SCHEMA_FILE.read_text()), format_checker=jsonschema.FormatChecker())
    for k in KEYS:
        assert_json_faithful(document, TEXT[k])  # credential / identity names and tags, whole (1 MB too)
    strings = set(_strings(data, []))
    refused = hostile_pack["refused"]
    for kind, field in (("exception", "justification"), ("control", "narrative"), ("review", "justification")):
        assert set(KEYS) - set(refused[kind]), f"every {kind} {field} was refused: nothing to look for in pack.json"
        for k in KEYS:
            if k not in refused[kind]:
                assert FORM_TEXT[k] in strings, f"{kind} {field} {k} not in pack.json"
    record_hostile("export pack.json (names, tags, justifications, narratives)", "faithful", len(KEYS))


def test_pack_xlsx_has_no_formula_and_keeps_values_or_says_it_cut_them(hostile_pack):
    content = hostile_pack["files"]["pack.xlsx"]
    assert assert_no_formula_cells(content) > len(KEYS)
    workbook = load_workbook(io.BytesIO(content), read_only=True)
    cells = {cell for sheet in workbook.worksheets for row in sheet.iter_rows(values_only=True) for cell in row if isinstance(cell, str)}
    for k in KEYS:
        value = ILLEGAL_CHARACTERS_RE.sub(lambda m: f"\\x{ord(m.group()):02x}", _stored(k))  # XML 1.0 has no C0 controls
        if len(value) <= MAX_CELL:
            assert value in cells, f"{k} not kept verbatim in pack.xlsx"
        else:
            cut = [c for c in cells if c.startswith(value[:1000]) and "truncated" in c]
            assert cut and all(len(c) <= MAX_CELL for c in cut), f"{k}: over Excel's cell limit and not marked truncated"
            assert f"{len(value):,}" in cut[0] and "pack.json" in cut[0]
    record_hostile("export pack.xlsx (formulas as text; values verbatim or marked cut)", "faithful", len(KEYS))


def test_pack_pdf_shows_markup_as_text_and_says_when_it_cut_a_value(hostile_pack):
    reader = pypdf.PdfReader(io.BytesIO(hostile_pack["files"]["pack.pdf"]))
    # pypdf reads some text runs of this PDF (fonts subset for the astral and RTL values) as
    # UTF-16 bytes, interleaving NULs; no NUL is set in the PDF (the stored NUL is the visible
    # escape "\\x00"), so dropping them recovers the text.
    text = "\n".join(page.extract_text() or "" for page in reader.pages).replace("\x00", "")
    assert "<script>alert('kt')</script>" in text  # the literal text, set as text
    assert "<img src=x onerror=alert(1)>" in text
    assert "{{ request.user.password }}" in text  # the template syntax was not evaluated
    assert "truncated in the PDF" in text and "1,048,576" in text  # the 1 MB value is cut and says so
    assert "M" * (PDF_TEXT_MAX + 1) not in text.replace("\n", "")  # only the clipped start of it is set
    # No markup effect: no link annotation other than the pack's own, no JavaScript action.
    for page in reader.pages:
        for annot in page.get("/Annots") or []:
            uri = annot.get_object().get("/A", {}).get("/URI", "")
            assert "evil.example" not in str(uri)
    assert "/JavaScript" not in str(reader.trailer["/Root"].get("/Names", {}))
    record_hostile("export pack.pdf (markup shown as text, long values cut with a note)", "faithful", len(KEYS))


def test_oscal_is_valid_json_with_the_values_faithful(hostile_pack):
    data = json.loads(hostile_pack["files"]["oscal-assessment-results.json"])
    strings = _strings(data, [])
    assert "assessment-results" in data
    # The engagement's name (an HTML script) is carried as data, in the result's title.
    assert any(s.startswith(TEXT["html_script"]) for s in strings)
    # Findings name their subjects: credential names, cut to 500 characters with their type.
    for k in KEYS:
        value = _stored(k)
        if value.strip() and len(value) < 400:
            assert any(value in s for s in strings), f"{k} not in the OSCAL findings"
    record_hostile("export OSCAL assessment results", "faithful", len(KEYS))


@pytest.mark.django_db
def test_the_api_returns_a_hostile_credential_faithfully(hostile_pack):
    from django.contrib.auth import get_user_model

    from tests.support.clients import bearer, issue

    grc = get_user_model().objects.get(username="hx-grc")
    client = bearer(issue(grc, scope="read", name="hostile-exports"))
    for i, k in enumerate(KEYS):
        if k in LONG_NAMES:  # refused by the collection (test above)
            continue
        credential = Credential.objects.get(external_id=_ext(i))
        response = client.get(f"/api/v1/credentials/{credential.pk}/")
        assert response.status_code == 200, response.content[:300]
        assert response["Content-Type"].startswith("application/json")
        assert_json_faithful(response.content, TEXT[k])
    listing = client.get("/api/v1/credentials/", {"page_size": 100})
    assert listing.status_code == 200
    record_hostile("API credential detail + list (JSON)", "faithful", len(KEYS) - len(LONG_NAMES))
