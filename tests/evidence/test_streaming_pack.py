"""The pack streams its credentials (apps/evidence/packdata.py ``Rows``): the files say exactly what
they said when every credential was held in a list. pack.json is byte for byte the whole-document
encoding, the workbook's cells are the same, and the census (summary, key-age chart, sample,
least-disclosure tags) equals what the list gives."""

from __future__ import annotations

import hashlib
import io
import random
from collections import Counter

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from apps.evidence.gather import gather
from apps.evidence.packdata import AGE_BUCKETS, Rows
from apps.evidence.renderers.jsondata import json_bytes, write_json
from apps.evidence.renderers.xlsx import render_xlsx
from apps.inventory import as_of as inventory_as_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def streamed(world, monkeypatch):
    monkeypatch.setattr(inventory_as_of, "CREDENTIAL_CHUNK", 1)  # one row per page: every page boundary is crossed
    now = timezone.now()
    return gather(engagement=world["engagement"], as_of=now, sample_size=2, sample_seed=5)


def _as_list(data):
    """The same pack data with the credentials held in a list, as the gatherer gave them before."""
    return type(data)(**{**data.__dict__, "credentials": list(data.credentials)})


def test_pack_json_streamed_is_the_whole_document_byte_for_byte(streamed):
    assert isinstance(streamed.credentials, Rows) and len(streamed.credentials) == 3
    listed = _as_list(streamed)
    out = io.BytesIO()
    digest = write_json(streamed.as_dict(), out)
    whole = json_bytes(listed.as_dict())
    assert out.getvalue() == whole
    assert digest == hashlib.sha256(whole).hexdigest()
    empty = io.BytesIO()
    write_json({"b": Rows(lambda types: iter([]), 0), "a": 1}, empty)
    assert empty.getvalue() == json_bytes({"b": [], "a": 1})
    many = io.BytesIO()
    rows = [{"i": i, "z": "x", "a": [i]} for i in range(2500)]
    write_json({"rows": Rows(lambda types: iter(rows), len(rows)), "$schema": "s"}, many)
    assert many.getvalue() == json_bytes({"rows": rows, "$schema": "s"})


def test_the_census_equals_what_the_whole_list_gives(streamed):
    credentials = list(streamed.credentials)
    assert [c["id"] for c in credentials] == sorted(c["id"] for c in credentials)
    assert streamed.summary["credentials"] == len(credentials)
    assert streamed.summary["credentials_by_type"] == dict(sorted(Counter(c["credential_type"] for c in credentials).items()))
    ages: dict[str, Counter[str]] = {}
    for c in credentials:
        if c["age_days"] is None:
            continue
        label = next(label for lo, hi, label in AGE_BUCKETS if c["age_days"] >= lo and (hi is None or c["age_days"] <= hi))
        ages.setdefault(c["credential_type"], Counter())[label] += 1
    assert {t: {k: v for k, v in row.items() if v} for t, row in streamed.charts["key_age"].items()} == {
        t: dict(a) for t, a in ages.items()
    }
    chosen = sorted(random.Random(5).sample(sorted(c["id"] for c in credentials), 2))
    assert [i["credential_id"] for i in streamed.sample["items"]] == chosen
    by_id = {c["id"]: c for c in credentials}
    assert all(i["name"] == by_id[i["credential_id"]]["name"] for i in streamed.sample["items"])


def test_the_workbook_is_the_same_from_the_stream_and_from_the_list(streamed, tmp_path):
    render_xlsx(streamed, tmp_path / "streamed.xlsx")
    render_xlsx(_as_list(streamed), tmp_path / "listed.xlsx")

    def cells(path):
        wb = load_workbook(path)
        return {ws.title: [[(c.value, c.data_type, c.number_format) for c in row] for row in ws.iter_rows()] for ws in wb.worksheets}

    streamed_cells, listed_cells = cells(tmp_path / "streamed.xlsx"), cells(tmp_path / "listed.xlsx")
    assert streamed_cells == listed_cells
    assert len(streamed_cells["credential inventory"]) == 4


def test_oscal_written_subject_by_subject_is_the_whole_document_byte_for_byte(streamed, tmp_path):
    import orjson

    from apps.evidence.renderers.oscal import OPTIONS, oscal_document, render_oscal

    assert streamed.findings, "the world has failing findings: observations with subjects"
    hostile = {**streamed.findings[0], "reason": 'x"\\u0000keytrail-oscal-subjects-0"\n\t<&>', "subject": "\x00keytrail-oscal-subjects-1"}
    streamed.findings = [*streamed.findings, hostile, *({**streamed.findings[-1], "id": 10_000 + i} for i in range(50))]
    render_oscal(streamed, tmp_path / "oscal.json")
    whole = orjson.dumps(oscal_document(streamed), option=OPTIONS)
    assert (tmp_path / "oscal.json").read_bytes() == whole
    observations = orjson.loads(whole)["assessment-results"]["results"][0]["observations"]
    assert sum(len(o.get("subjects", [])) for o in observations) == len(streamed.findings)
