"""The spreadsheet's fast row writer (apps/evidence/renderers/sheet.py, docs/adr/0015-xlsx-row-writer.md)
writes what openpyxl's own per-cell path writes: every cell read back with openpyxl has the same
value, type, number format and quote prefix, for the hostile corpus, numbers, booleans and odd dates."""

from __future__ import annotations

import io
import zipfile

import pytest
from openpyxl import Workbook, load_workbook

from apps.evidence.renderers.sheet import BOOL, DATE, DATETIME, INT, TEXT, Sheet
from tests.support.hostile import TEXT as HOSTILE
from tests.support.hostile import assert_no_formula_cells

pytestmark = pytest.mark.hostile

COLUMNS = [("text", 30, TEXT), ("int", 10, INT), ("when", 17, DATETIME), ("day", 12, DATE), ("flag", 8, BOOL), ("json", 40, TEXT)]
ODD = ["", None, "not a date", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2026-02-29", "2025-06-01T12:30:00+02:00", 1.5, True, -3]


def _rows() -> list[list[object]]:
    rows: list[list[object]] = []
    for i, value in enumerate(HOSTILE.values()):
        if any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
            continue  # lone surrogates never reach a renderer: the database stores them as visible escapes
        odd = ODD[i % len(ODD)]
        rows.append([value, odd if i % 2 else i, odd, odd, odd if i % 3 else bool(i % 2), {"tag": value, "n": i}])
    rows.append([" padded ", 2**53, "2025-01-02T03:04:05Z", "2025-01-02", False, ["a", "=b"]])
    rows.append(["a & b < c > d\r\n", float("nan"), None, None, None, None])
    return rows


def _render(fast: bool, monkeypatch: pytest.MonkeyPatch) -> bytes:
    monkeypatch.setattr(Sheet, "fast", fast)
    wb = Workbook(write_only=True)
    Sheet(wb, "corpus", COLUMNS).write(_rows())
    Sheet(wb, "empty", COLUMNS).write([])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _cells(xlsx: bytes) -> dict[str, list[list[tuple[object, ...]]]]:
    wb = load_workbook(io.BytesIO(xlsx))
    return {
        ws.title: [[(c.value, c.data_type, c.number_format, bool(c.quotePrefix), c.font.b) for c in row] for row in ws.iter_rows()]
        for ws in wb.worksheets
    }


def test_the_fast_rows_read_back_as_openpyxls_own_cells(monkeypatch):
    assert Sheet.fast, "lxml is installed: the fast path is the one in use"
    reference, fast = _render(False, monkeypatch), _render(True, monkeypatch)
    assert _cells(fast) == _cells(reference)
    wb = load_workbook(io.BytesIO(fast))
    ws = wb["corpus"]
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == f"A1:F{len(_rows()) + 1}" and ws.column_dimensions["A"].width == 30
    assert wb["empty"].max_row == 1 and wb["empty"].auto_filter.ref == "A1:F1"
    assert_no_formula_cells(fast)
    with zipfile.ZipFile(io.BytesIO(fast)) as zf:  # the sheet is well-formed XML that openpyxl's reader parsed above
        assert b"<f>" not in zf.read("xl/worksheets/sheet1.xml")


def test_formula_starts_are_quoted_text_and_dates_are_dates(monkeypatch):
    monkeypatch.setattr(Sheet, "fast", True)
    wb = Workbook(write_only=True)
    Sheet(wb, "t", COLUMNS).write([[HOSTILE["formula_eq"], 7, "2025-01-02T03:04:05Z", "2025-01-02", True, {"k": "=1"}]])
    out = io.BytesIO()
    wb.save(out)
    row = [c for c in load_workbook(io.BytesIO(out.getvalue()))["t"][2]]
    assert row[0].value == HOSTILE["formula_eq"] and row[0].data_type == "s" and row[0].quotePrefix
    assert row[1].value == 7 and row[1].data_type == "n"
    assert row[2].is_date and row[2].value.hour == 3 and row[2].number_format == "yyyy-mm-dd hh:mm"
    assert row[3].is_date and row[3].number_format == "yyyy-mm-dd"
    assert row[4].value == "yes" and row[5].value == '{"k":"=1"}'
