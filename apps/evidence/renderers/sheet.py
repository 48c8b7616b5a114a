"""One write-only worksheet whose columns are declared as data: ``(header, width, kind)``.

Every text cell that a spreadsheet could read as a formula (or DDE) once a user edits it is
written as a string cell with ``quotePrefix``; other text as a plain string cell. Dates are
real dates (UTC, formatted), headers are frozen and filtered, columns have widths.

The header goes through openpyxl's own cells; the data rows go through :meth:`Sheet._write_row`,
which writes each row as one lxml element into openpyxl's write-only stream with the cell types
and the (two, precomputed) cell styles decided per column: openpyxl's generic per-cell path (a
cell object, type guessing, a style lookup and an lxml context per value) was 80 % of the
spreadsheet's time (docs/adr/0015-xlsx-row-writer.md, docs/benchmarks.md). ``Sheet.fast = False``
writes every row through openpyxl's per-cell path instead; the tests compare the two.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any, BinaryIO

import orjson
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.compat import safe_string
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel
from openpyxl.worksheet._writer import WorksheetWriter
from openpyxl.xml import LXML
from openpyxl.xml.constants import SHEET_MAIN_NS
from openpyxl.xml.functions import xmlfile

TEXT, INT, DATETIME, DATE, BOOL = "text", "int", "datetime", "date", "bool"
MAX_CELL = 32767  # Excel's limit for one cell's text
# What a spreadsheet may read as a formula (or DDE) once a user edits the cell: such values get
# a string cell with quotePrefix; openpyxl itself turns only "=..." into a formula.
# Full-width forms (＝＋－＠｜％, East Asian locales) are read as formulas too.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "|", "%", "\uff1d", "\uff0b", "\uff0d", "\uff20", "\uff5c", "\uff05")
HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="1B2430")


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode() if value not in (None, {}, []) else ""


_XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"
_DATETIME_FORMAT, _DATE_FORMAT = "yyyy-mm-dd hh:mm", "yyyy-mm-dd"
# A prepared cell of the fast path: (type attribute, style id or "", text).
_Fast = tuple[str, str, str]


_NEEDS_ESCAPE = re.compile("[&<>\r]")


class _RowWriter(WorksheetWriter):
    """openpyxl's worksheet writer with the file opened here, so that rows serialised by
    :class:`Sheet` go to the same file between openpyxl's header row and its closing tags
    (openpyxl writes nothing else meanwhile). The sheet's XML is what openpyxl writes itself."""

    fh: BinaryIO
    xf_handle: Any

    def get_stream(self):
        with open(self.out, "wb") as self.fh, xmlfile(self.fh) as xf:
            self.xf_handle = xf
            with xf.element("worksheet", xmlns=SHEET_MAIN_NS):
                try:
                    while True:
                        el = yield
                        if el is True:
                            yield xf
                        elif el is not None:
                            xf.write(el)
                except GeneratorExit:
                    pass


class Sheet:
    # Write data rows as lxml elements (the fast path) when openpyxl streams through lxml.
    fast: bool = LXML

    def __init__(self, wb: Workbook, title: str, columns: list[tuple[str, int, str]]):
        self.ws = wb.create_sheet(title=title)
        self.columns = columns
        self.rows = 0
        self.letters = [get_column_letter(i) for i in range(1, len(columns) + 1)]
        self.ws.freeze_panes = "A2"
        for i, (_, width, _) in enumerate(columns, start=1):
            self.ws.column_dimensions[get_column_letter(i)].width = width
        header = []
        for name, _, _ in columns:
            cell = WriteOnlyCell(self.ws, value=name)
            cell.font, cell.fill = HEADER_FONT, HEADER_FILL
            cell.alignment = Alignment(vertical="top")
            header.append(cell)
        if self.fast:
            # openpyxl's own writer for this sheet, whose stream we can append raw rows to.
            self.ws._writer = _RowWriter(self.ws)
            self.ws._writer.write_top()
        self.ws.append(header)
        if self.fast:
            # Style ids registered once in the workbook, the ones openpyxl's own cells would get.
            self._styles = {
                DATETIME: self._style_id(number_format=_DATETIME_FORMAT),
                DATE: self._style_id(number_format=_DATE_FORMAT),
                "quoted": self._style_id(quotePrefix=True),
            }

    def _style_id(self, **style: Any) -> str:
        cell = WriteOnlyCell(self.ws)
        for name, value in style.items():
            setattr(cell, name, value)
        return str(cell.style_id)

    def _row_xml(self, row: list[_Fast | None], row_idx: int) -> str:
        """One ``<row>`` as openpyxl's lxml writer would serialise it (same attributes, same escapes)."""
        parts = [f'<row r="{row_idx}">']
        for letter, cell in zip(self.letters, row, strict=False):
            if cell is None:
                continue
            kind, style, text = cell
            styled = f' s="{style}"' if style else ""
            if kind == "inlineStr":
                space = ' xml:space="preserve"' if text != text.strip() else ""
                if _NEEDS_ESCAPE.search(text):
                    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
                parts.append(f'<c r="{letter}{row_idx}"{styled} t="inlineStr"><is><t{space}>{text}</t></is></c>')
            else:
                parts.append(f'<c r="{letter}{row_idx}"{styled} t="{kind}"><v>{text}</v></c>')
        parts.append("</row>")
        return "".join(parts)

    def _fast_cell(self, value: Any, kind: str) -> _Fast | None:
        """The cell openpyxl's own path would write for ``value`` (see :meth:`_cell`), as (type, style, text)."""
        if value is None or value == "":
            return None
        if kind == INT and isinstance(value, (int, float)):
            return ("b", "", safe_string(value)) if isinstance(value, bool) else ("n", "", safe_string(value))
        if kind == BOOL:
            if value is True or value is False:
                return ("inlineStr", "", "yes" if value else "no")
        elif kind in (DATETIME, DATE):
            try:
                parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            except ValueError:
                pass
            else:
                moment = parsed.replace(tzinfo=None) if kind == DATETIME else parsed.date()
                return ("n", self._styles[kind], safe_string(to_excel(moment)))
        text = self._text(value)
        if isinstance(text, str):
            return ("inlineStr", "", text)
        return ("inlineStr", self._styles["quoted"], text.value)

    def _cell(self, value: Any, kind: str):
        if value is None or value == "":
            return None
        if kind == INT:
            return value if isinstance(value, (int, float)) else self._text(value)
        if kind == BOOL:
            return "yes" if value is True else "no" if value is False else self._text(value)
        if kind in (DATETIME, DATE):
            try:
                parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            except ValueError:
                return self._text(value)
            cell = WriteOnlyCell(self.ws, value=parsed.replace(tzinfo=None) if kind == DATETIME else parsed.date())
            cell.number_format = "yyyy-mm-dd hh:mm" if kind == DATETIME else "yyyy-mm-dd"
            return cell
        return self._text(value)

    def _text(self, value: Any):
        text = value if isinstance(value, str) else _json(value) if isinstance(value, (dict, list)) else str(value)
        if ILLEGAL_CHARACTERS_RE.search(text):
            # XML 1.0 (the workbook's format) cannot carry C0 control characters: shown as
            # visible escapes, as NUL is everywhere (apps.core.text.storable).
            text = ILLEGAL_CHARACTERS_RE.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
        if len(text) > MAX_CELL:
            # Excel refuses a longer cell; say what was cut and where the whole value is.
            note = f" … [truncated: {len(text):,} characters; in full in pack.json]"
            text = text[: MAX_CELL - len(note)] + note
        if not text.startswith(FORMULA_STARTS):
            # openpyxl writes any other str as a string cell; a styled cell per value would double the time of 20,000 credentials.
            return text
        cell = WriteOnlyCell(self.ws, value=text)
        # openpyxl guesses "f" (formula) for text starting with "="; force a string cell.
        cell.data_type = "s"
        cell.quotePrefix = True
        return cell

    def write(self, rows: Iterable[list[Any]]) -> None:
        kinds = [kind for _, _, kind in self.columns]
        if not self.fast:
            for row in rows:
                self.ws.append([self._cell(v, k) for v, k in zip(row, kinds, strict=False)])
                self.rows += 1
        else:
            writer: _RowWriter = self.ws._writer
            writer.xf_handle.flush()  # the header row, out of lxml's buffer: the data rows follow it in the file
            make, batch = self._fast_cell, []
            for row in rows:
                self.rows += 1
                batch.append(self._row_xml([make(v, k) for v, k in zip(row, kinds, strict=False)], self.rows + 1))
                if len(batch) >= 1000:
                    writer.fh.write("".join(batch).encode())
                    batch.clear()
            writer.fh.write("".join(batch).encode())
        self.ws.auto_filter.ref = f"A1:{get_column_letter(len(self.columns))}{self.rows + 1}"
