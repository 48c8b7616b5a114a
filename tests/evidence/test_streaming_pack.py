"""The pack streams its credentials and its findings (apps/evidence/packdata.py ``Rows``,
``FindingRows``): the files say exactly what they said when every credential and every finding
was held in a list. pack.json is byte for byte the whole-document
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

from apps.evaluation.selectors import as_of as evaluation_as_of
from apps.evaluation.selectors import evaluation_as_of as last_evaluation
from apps.evaluation.selectors import findings_in_scope
from apps.evidence.gather import gather
from apps.evidence.packdata import AGE_BUCKETS, FindingRows, Rows
from apps.evidence.renderers.jsondata import json_bytes, write_json
from apps.evidence.renderers.xlsx import render_xlsx
from apps.inventory import as_of as inventory_as_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def streamed(world, monkeypatch):
    monkeypatch.setattr(inventory_as_of, "CREDENTIAL_CHUNK", 1)  # one row per page: every page boundary is crossed
    monkeypatch.setattr(evaluation_as_of, "FINDING_CHUNK", 1)  # one finding per fetch from the server-side cursor
    now = timezone.now()
    return gather(engagement=world["engagement"], as_of=now, sample_size=2, sample_seed=5)


def _as_list(data):
    """The same pack data with the credentials and the findings held in lists, as the gatherer gave them before."""
    return type(data)(**{**data.__dict__, "credentials": list(data.credentials), "findings": list(data.findings)})


def test_pack_json_streamed_is_the_whole_document_byte_for_byte(streamed):
    assert isinstance(streamed.credentials, Rows) and len(streamed.credentials) == 3
    assert isinstance(streamed.findings, FindingRows) and len(streamed.findings) > 1
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
    long_list = io.BytesIO()  # a long list member is written row by row too: the same bytes
    listed_rows = [{"n": i, "s": "é\u2028\x00", "l": [None, True, 1.5]} for i in range(2345)]
    write_json({"rows": Rows(lambda types: iter(rows), len(rows)), "identities": listed_rows, "short": [1, 2]}, long_list)
    assert long_list.getvalue() == json_bytes({"rows": rows, "identities": listed_rows, "short": [1, 2]})


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

    assert len(streamed.findings), "the world has failing findings: observations with subjects"
    render_oscal(streamed, tmp_path / "streamed.json")  # each rule's findings read from the database as written
    streamed = _as_list(streamed)
    assert (tmp_path / "streamed.json").read_bytes() == orjson.dumps(oscal_document(streamed), option=OPTIONS)
    hostile = {**streamed.findings[0], "reason": 'x"\\u0000keytrail-oscal-subjects-0"\n\t<&>', "subject": "\x00keytrail-oscal-subjects-1"}
    streamed.findings = [*streamed.findings, hostile, *({**streamed.findings[-1], "id": 10_000 + i} for i in range(50))]
    render_oscal(streamed, tmp_path / "oscal.json")
    whole = orjson.dumps(oscal_document(streamed), option=OPTIONS)
    assert (tmp_path / "oscal.json").read_bytes() == whole
    observations = orjson.loads(whole)["assessment-results"]["results"][0]["observations"]
    assert sum(len(o.get("subjects", [])) for o in observations) == len(streamed.findings)


def test_the_streamed_findings_are_the_whole_list_and_the_counts_are_its_counts(streamed, world):
    """What the gatherer now counts in PostgreSQL and reads rule by rule equals what it computed
    from the one list ``findings_in_scope`` gives."""
    evaluation = last_evaluation(as_of=timezone.now())
    assert evaluation is not None and streamed.evaluation == evaluation
    sources = {s["id"]: s["name"] for s in streamed.sources}
    refs = {e["id"]: e["ref"] for e in streamed.exceptions}
    whole = findings_in_scope(evaluation_id=evaluation["id"], sources=sources, exception_refs=refs)
    streamed_list = list(streamed.findings)
    assert [(f["id"], f["rule_id"]) for f in streamed_list] == [(f["id"], f["rule_id"]) for f in whole]
    assert len(streamed.findings) == len(whole) and len({f["rule_id"] for f in whole}) > 1
    assert streamed.findings.per_rule == dict(Counter(f["rule_id"] for f in whole))
    for rule_id in streamed.findings.per_rule:
        assert list(streamed.findings.of_rules((rule_id,))) == [f for f in streamed_list if f["rule_id"] == rule_id]
    assert list(streamed.findings.of_rules(("no-such-rule",))) == []
    assert streamed.summary["findings"] == dict(sorted(Counter(f["status"] for f in whole).items()))
    for r in streamed.requirements:
        mine = Counter(f["status"] for f in whole if f["rule_id"] in r["rule_ids"])
        assert r["in_scope"] == {"failed": mine["fail"], "excepted": mine["excepted"], "not_assessed": mine["not_assessed"]}
    for item in streamed.sample["items"]:
        assert item["findings"] == [
            {"rule_id": f["rule_id"], "status": f["status"], "reason": f["reason"]}
            for f in whole
            if f["credential_id"] == item["credential_id"]
        ]
    assert any(item["findings"] for item in streamed.sample["items"]), "a sampled credential has findings"


def test_the_pdf_shows_the_same_capped_findings_from_the_stream_and_from_the_list(streamed, monkeypatch):
    from apps.evidence.renderers import pdf

    monkeypatch.setattr(pdf, "CAP_FAILURES", 1)  # a rule with more findings than shown: "and N more"
    meta = {"pack_id": "KT-1", "built_at": "2026-01-01T00:00:00Z", "keytrail_version": "test"}

    def shown(data):
        return [
            [(row["rule"], row["failures"], row["more"], row["total"]) for row in section["rules"]]
            for section in pdf.pdf_context(data, **meta)["sections"]
        ]

    from_stream, from_list = shown(streamed), shown(_as_list(streamed))
    assert from_stream == from_list
    whole = {k: v for k, v in pdf.pdf_context(_as_list(streamed), **meta).items() if k != "d"}
    assert {k: v for k, v in pdf.pdf_context(streamed, **meta).items() if k != "d"} == whole  # everything else the PDF shows
    assert any(more for section in from_stream for _, _, more, _ in section), "some rule has more findings than the cap"


def test_the_pdf_kind_summaries_from_the_stream_are_those_of_the_whole_list(streamed):
    """The PDF counts certificates, vault keys, secure strings and Entra credentials as it reads them
    and keeps the first few by expiry: the same as sorting and counting the whole list (ties in order)."""
    from apps.connectors.kinds import CredentialKind as K
    from apps.core.isotime import parse_iso
    from apps.evidence.renderers import pdf

    base = next(iter(streamed.credentials))
    kinds = [K.SERVER_CERTIFICATE, K.KV_CERTIFICATE, K.KV_KEY, K.SSM_SECURE_STRING, K.ENTRA_CLIENT_SECRET, K.ENTRA_CERTIFICATE]
    expiries = [None, "2026-03-01T00:00:00Z", "2020-01-01T00:00:00Z", "2026-03-01T00:00:00Z", "2099-12-31T00:00:00Z"]
    rows = [
        {
            **base,
            "id": 1_000 + i,
            "name": f"c{i}",
            "credential_type": kinds[i % len(kinds)].value,
            "expires_at": expiries[(i // len(kinds)) % len(expiries)],
            "rotation_enabled": [True, False, None][i % 3],
            "details": [{}, {"tier": "Advanced", "owners": []}, {"foreign_tenant": True}, None][i % 4],
        }
        for i in range(6 * 23)
    ]
    credentials = Rows(lambda types: iter([c for c in rows if types is None or c["credential_type"] in types]), len(rows))
    data = type(streamed)(**{**streamed.__dict__, "credentials": credentials, "findings": list(streamed.findings)})
    context = pdf.pdf_context(data, pack_id="KT-1", built_at="2026-01-01T00:00:00Z", keytrail_version="test")

    def of(*types):
        return [c for c in rows if c["credential_type"] in types]

    cap = pdf.CAP_FAILURES
    certificates = sorted(of(K.SERVER_CERTIFICATE), key=lambda c: c["expires_at"] or "9999")
    vault_certificates = sorted(of(K.KV_CERTIFICATE), key=lambda c: c["expires_at"] or "0000")
    assert len(certificates) > cap and len(vault_certificates) > cap
    assert context["server_certificates"] == certificates[:cap]
    assert context["server_certificates_more"] == len(certificates) - cap
    assert context["vault_certificates"] == vault_certificates[:cap]
    assert context["vault_certificates_more"] == len(vault_certificates) - cap
    keys = of(K.KV_KEY)
    assert context["vault_keys"] == {
        "total": len(keys),
        "rotation_policy": sum(1 for c in keys if c.get("rotation_enabled") is True),
        "no_rotation_policy": sum(1 for c in keys if c.get("rotation_enabled") is False),
        "no_expiry": sum(1 for c in keys if not c["expires_at"]),
    }
    strings = of(K.SSM_SECURE_STRING)
    assert {k: v for k, v in context["secure_strings"].items() if k != "plaintext_secret_like"} == {
        "total": len(strings),
        "with_expiration": sum(1 for c in strings if c["expires_at"]),
        "advanced": sum(1 for c in strings if (c.get("details") or {}).get("tier") == "Advanced"),
    }
    entra, now = of(K.ENTRA_CLIENT_SECRET, K.ENTRA_CERTIFICATE), parse_iso(data.as_of)
    ends = [parse_iso(c["expires_at"]) for c in entra]
    assert context["entra"] == {
        "total": len(entra),
        "secrets": sum(1 for c in entra if c["credential_type"] == K.ENTRA_CLIENT_SECRET),
        "expired": sum(1 for end in ends if end is not None and now is not None and end <= now),
        "ownerless": sum(1 for c in entra if (c.get("details") or {}).get("owners") == []),
        "foreign": sum(1 for c in entra if (c.get("details") or {}).get("foreign_tenant") is True),
    }
    assert all(isinstance(v, int) and not isinstance(v, bool) for v in [*context["vault_keys"].values(), *context["entra"].values()])
