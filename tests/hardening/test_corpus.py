"""The corpus helpers themselves (positive controls, so a passing suite means something), and
the posture pages over hostile collected data."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook

from tests.support.hostile import (
    TEXT,
    assert_escaped_html,
    assert_json_faithful,
    assert_no_formula_cells,
    assert_stored_faithfully,
    count,
    expected_stored,
)


def _xlsx(fill) -> bytes:
    workbook = Workbook()
    fill(workbook.active)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_formula_cells_are_caught_and_text_cells_pass():
    def as_text(sheet):
        for row, value in enumerate(v for k, v in TEXT.items() if k.startswith("formula")):
            cell = sheet.cell(row=row + 1, column=1, value=value)
            cell.data_type = "s"
            cell.quotePrefix = True

    assert assert_no_formula_cells(_xlsx(as_text)) == 7

    def without_quote_prefix(sheet):
        cell = sheet.cell(row=1, column=1, value=TEXT["formula_fullwidth"])
        cell.data_type = "s"

    with pytest.raises(AssertionError, match="without quotePrefix"):
        assert_no_formula_cells(_xlsx(without_quote_prefix))

    def as_formula(sheet):
        sheet["A1"] = "=1+1"

    with pytest.raises(AssertionError, match="is a formula"):
        assert_no_formula_cells(_xlsx(as_formula))


def test_escaping_and_faithfulness_checks_catch_what_they_should():
    with pytest.raises(AssertionError, match="reached the page"):
        assert_escaped_html("<head></head><p><script>alert('kt')</script></p>")
    assert_escaped_html("<head><script>x</script></head><p>&lt;script&gt;alert(&#x27;kt&#x27;)&lt;/script&gt;</p>", TEXT.values())
    assert expected_stored(TEXT["nul"]) == "before\\x00after" and expected_stored(TEXT["invalid_utf8"]).startswith("caf\\udce9")
    assert_stored_faithfully({"a": "before\\x00after"}, {"a": TEXT["nul"]})
    assert_json_faithful('{"v": ["=1+1", "caf\\\\udce9 \\\\udcff\\\\udcfe"]}', TEXT["invalid_utf8"])
    with pytest.raises(AssertionError):
        assert_json_faithful('{"v": "x"}', TEXT["html_script"])
    assert count() >= 40
