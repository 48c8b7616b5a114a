"""Exporting a list page as CSV or XLSX: the one helper every list page shares.

A page declares its columns once, as data (``Column(header, value)``), and hands the same
filtered rows it shows to :func:`export_response`. Rows are read lazily (pass an iterator:
``queryset.iterator()``), so a list of 100,000 rows is never held in memory:

- CSV is a ``StreamingHttpResponse``: each row is sent as it is written.
- XLSX is written by openpyxl in ``write_only`` mode to a temporary file (the format is a zip
  that needs its end to be written before it can be read), then streamed from that file.

Text a spreadsheet could read as a formula (``=``, ``+``, ``-``, ``@``, tab, CR, ``|``, ``%``)
is escaped for each medium: in CSV prefixed with ``'`` (the OWASP advice: the cell is shown
as text), in XLSX written as a string cell with ``quotePrefix`` (so it stays text after a
user edits it). Times are ISO 8601 UTC in CSV and real UTC date-times in XLSX.

Whether the user may read the rows is the calling view's to check, as for the page itself:
an export is the page's own URL with ``?export=csv`` (or ``xlsx``), behind the same checks.
"""

from __future__ import annotations

import csv
import datetime as dt
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.http import FileResponse, HttpResponseBase, StreamingHttpResponse
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from apps.core.canonical import canonical_json
from apps.core.isotime import iso_utc

FORMATS = ("csv", "xlsx")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "|", "%")
MAX_CELL = 32767  # Excel's limit for one cell's text
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Column:
    """One exported column: its header and how to read its value from a row."""

    header: str
    value: Callable[[Any], Any]


def export_format(request) -> str | None:
    """``"csv"`` or ``"xlsx"`` when the page is asked for an export (``?export=``), else None."""
    wanted = request.GET.get("export", "").strip().lower()
    return wanted if wanted in FORMATS else None


def _plain(value: Any) -> Any:
    """A cell's value as text, number or date: None and "" stay empty, booleans are yes/no."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        return value if timezone.is_naive(value) else value.astimezone(dt.UTC)
    if isinstance(value, (int, float, dt.date)):
        return value
    if isinstance(value, (list, tuple, set)):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return canonical_json(value)
    return str(value)


def csv_cell(value: Any) -> Any:
    """``value`` as written to CSV: formula-like text prefixed with ``'``, times in ISO UTC."""
    value = _plain(value)
    if isinstance(value, dt.datetime):
        return iso_utc(value) if not timezone.is_naive(value) else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class _Echo:
    """A file-like object whose ``write`` returns what it was given (csv.writer into a stream)."""

    def write(self, value: str) -> str:
        return value


def _csv_lines(rows: Iterable[Any], columns: Sequence[Column]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff"  # a BOM, so a spreadsheet opens the UTF-8 file as UTF-8
    yield writer.writerow([c.header for c in columns])
    for row in rows:
        yield writer.writerow([csv_cell(c.value(row)) for c in columns])


def _xlsx_cell(ws, value: Any) -> Any:
    value = _plain(value)
    if isinstance(value, dt.datetime):
        cell = WriteOnlyCell(ws, value=value.replace(tzinfo=None))
        cell.number_format = "yyyy-mm-dd hh:mm:ss"
        return cell
    if isinstance(value, dt.date):
        cell = WriteOnlyCell(ws, value=value)
        cell.number_format = "yyyy-mm-dd"
        return cell
    if not isinstance(value, str):
        return value
    if ILLEGAL_CHARACTERS_RE.search(value):
        # XML 1.0 cannot carry C0 control characters: written as visible escapes.
        value = ILLEGAL_CHARACTERS_RE.sub(lambda m: f"\\x{ord(m.group()):02x}", value)
    if len(value) > MAX_CELL:
        note = f" … [truncated: {len(value):,} characters]"
        value = value[: MAX_CELL - len(note)] + note
    if not value.startswith(FORMULA_STARTS):
        return value
    cell = WriteOnlyCell(ws, value=value)
    cell.data_type = "s"  # openpyxl would guess "f" (formula) for text starting with "="
    cell.quotePrefix = True
    return cell


def write_xlsx(rows: Iterable[Any], columns: Sequence[Column], file, *, title: str = "Export") -> None:
    """Write ``rows`` as one sheet (header row frozen, filterable) to ``file`` (path or binary file)."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=title[:31] or "Export")
    ws.freeze_panes = "A2"
    header = []
    for column in columns:
        cell = WriteOnlyCell(ws, value=column.header)
        cell.font = Font(bold=True)
        header.append(cell)
    ws.append(header)
    count = 0
    for row in rows:
        ws.append([_xlsx_cell(ws, c.value(row)) for c in columns])
        count += 1
    if columns:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{count + 1}"
    wb.save(file)


def export_response(*, rows: Iterable[Any], columns: Sequence[Column], fmt: str, name: str) -> HttpResponseBase:
    """The download of ``rows`` as ``fmt`` (``csv`` or ``xlsx``), named ``<name>-<UTC time>.<fmt>``.

    Raises ValueError for another format (views pass :func:`export_format`'s answer)."""
    stamp = timezone.now().astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    filename = f"{name}-{stamp}.{fmt}"
    if fmt == "csv":
        response = StreamingHttpResponse(_csv_lines(rows, columns), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
    if fmt == "xlsx":
        # Spooled in memory up to 8 MB, then on disk; closed (and deleted) when the response is.
        spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 - FileResponse closes it
        write_xlsx(rows, columns, spool, title=name)
        spool.seek(0)
        return FileResponse(spool, as_attachment=True, filename=filename, content_type=XLSX_TYPE)
    raise ValueError(f"unknown export format {fmt!r}")
