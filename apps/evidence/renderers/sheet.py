"""One write-only worksheet whose columns are declared as data: ``(header, width, kind)``.

Every text cell that a spreadsheet could read as a formula (or DDE) once a user edits it is
written as a string cell with ``quotePrefix``; other text as a plain string cell. Dates are
real dates (UTC, formatted), headers are frozen and filtered, columns have widths.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import orjson
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

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


class Sheet:
    def __init__(self, wb: Workbook, title: str, columns: list[tuple[str, int, str]]):
        self.ws = wb.create_sheet(title=title)
        self.columns = columns
        self.rows = 0
        self.ws.freeze_panes = "A2"
        for i, (_, width, _) in enumerate(columns, start=1):
            self.ws.column_dimensions[get_column_letter(i)].width = width
        header = []
        for name, _, _ in columns:
            cell = WriteOnlyCell(self.ws, value=name)
            cell.font, cell.fill = HEADER_FONT, HEADER_FILL
            cell.alignment = Alignment(vertical="top")
            header.append(cell)
        self.ws.append(header)

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
        for row in rows:
            self.ws.append([self._cell(v, k) for v, k in zip(row, kinds, strict=False)])
            self.rows += 1
        self.ws.auto_filter.ref = f"A1:{get_column_letter(len(self.columns))}{self.rows + 1}"
