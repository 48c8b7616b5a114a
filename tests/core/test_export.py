"""The shared export helper: CSV streamed, XLSX written in write-only mode, both escaping
text a spreadsheet would read as a formula, read back with csv and openpyxl."""

import csv
import datetime as dt
import io

import openpyxl
import pytest
from django.http import FileResponse, StreamingHttpResponse

from apps.core.export import Column, csv_cell, export_response

HOSTILE = ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx", "%0A", "plain", "a\x00b"]
COLUMNS = (
    Column("Text", lambda r: r["text"]),
    Column("Number", lambda r: r["n"]),
    Column("When", lambda r: r["when"]),
    Column("Day", lambda r: r["day"]),
    Column("Flag", lambda r: r["flag"]),
    Column("None", lambda r: None),
)
WHEN = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)


def _rows():
    for i, text in enumerate(HOSTILE):
        yield {"text": text, "n": -i, "when": WHEN, "day": dt.date(2026, 3, 2), "flag": i % 2 == 0}


def _csv(response) -> list[list[str]]:
    assert isinstance(response, StreamingHttpResponse)
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:])))


def test_csv_is_streamed_with_formulas_escaped():
    response = export_response(rows=_rows(), columns=COLUMNS, fmt="csv", name="things")
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="things-') and response["Content-Disposition"].endswith('.csv"')
    rows = _csv(response)
    assert rows[0] == ["Text", "Number", "When", "Day", "Flag", "None"]
    texts = [r[0] for r in rows[1:]]
    assert texts[:6] == ["'" + t for t in HOSTILE[:6]]
    assert texts[6] == "plain"
    assert rows[1][1:] == ["0", "2026-03-01T09:30:00Z", "2026-03-02", "yes", ""]
    assert rows[2][1] == "-1"  # a number stays a number: only text is escaped


def test_xlsx_keeps_formula_like_text_as_text():
    response = export_response(rows=_rows(), columns=COLUMNS, fmt="xlsx", name="things")
    assert isinstance(response, FileResponse)
    assert response["Content-Disposition"].endswith('.xlsx"')
    wb = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    ws = wb.active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == ("Text", "Number", "When", "Day", "Flag", "None")
    for row, text in zip(rows[1:], HOSTILE, strict=True):
        assert row[0] == (text if "\x00" not in text else "a\\x00b")
    cells = list(ws.iter_rows(min_row=2, max_col=1))
    assert all(c[0].data_type == "s" for c in cells)  # never a formula
    assert cells[0][0].quotePrefix
    assert rows[1][1] == 0 and rows[2][1] == -1
    assert rows[1][2] == dt.datetime(2026, 3, 1, 9, 30) and rows[1][3] == dt.datetime(2026, 3, 2)
    assert rows[1][4] == "yes" and rows[1][5] is None
    assert ws.freeze_panes == "A2"


def test_an_empty_list_exports_its_header_only():
    assert _csv(export_response(rows=iter(()), columns=COLUMNS, fmt="csv", name="x")) == [[c.header for c in COLUMNS]]


def test_an_unknown_format_is_refused():
    with pytest.raises(ValueError):
        export_response(rows=[], columns=COLUMNS, fmt="pdf", name="x")


def test_csv_cell_leaves_numbers_and_safe_text_alone():
    assert csv_cell(-3) == -3 and csv_cell("a=b") == "a=b" and csv_cell(None) == "" and csv_cell(["a", "b"]) == "a, b"
