"""The bad-input corpus: one shared set of hostile values and the checks every entry point owes them.

Every place that takes text from outside (a cloud API, a form, an upload, an export) runs
this corpus and must either

* **store it faithfully**: read back equal to what was sent, or equal to the one documented
  normalisation, :func:`apps.core.text.storable` (PostgreSQL text cannot hold NUL, UTF-8
  cannot hold the lone surrogates that undecodable bytes become: both turn into visible
  escapes ``\\x00`` / ``\\udce9``), see :func:`expected_stored`; or
* **refuse it clearly**: a 200 page with the form and an error message, or a
  ``ValidationFailed`` with a message fit for a user, and nothing half-written;

and never answer 500. Whatever is shown again is **escaped for its medium**: HTML-escaped on
a page (:func:`assert_escaped_html`), a string cell never a formula in a spreadsheet
(:func:`assert_no_formula_cells`), a JSON string in JSON (:func:`assert_json_faithful`).

Use from any test::

    from tests.support.hostile import TEXT, assert_escaped_html, expected_stored

    @pytest.mark.parametrize("value", TEXT.values(), ids=TEXT.keys())
    def test_title(value): ...

The counts in docs/reliability.md come from ``python -m pytest --collect-only -q -m hostile``
(every test that runs the corpus is marked ``hostile``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

from apps.core.text import storable, storable_tree

# --- the values ----------------------------------------------------------------------------

# Text that a spreadsheet, a browser or a terminal would interpret, and text that databases
# and parsers choke on. Keys are stable test ids.
TEXT: dict[str, str] = {
    "formula_eq": '=HYPERLINK("http://evil.example","click")',
    "formula_plus": "+1+cmd|' /C calc'!A0",
    "formula_minus": "-2+3+cmd|' /C calc'!A0",
    "formula_at": "@SUM(1,1)",
    "formula_tab": "\t=1+1",
    "formula_cr": "\r=1+1",
    "formula_fullwidth": '\uff1dHYPERLINK("http://evil.example","click")',
    "html_script": "<script>alert('kt')</script>",
    "html_attr": '"><img src=x onerror=alert(1)>',
    "html_entities": "&lt;b&gt; &amp; &#x3c;script&#x3e;",
    "template_syntax": "{{ request.user.password }} {% debug %}",
    "sql_quote": "Robert'); DROP TABLE inventory_credential;--",
    "big_10k": "K" * 10_240,
    "big_1m": "M" * 1_048_576,
    "nul": "before\x00after",
    "control_chars": "bell\x07 esc\x1b[31m vt\x0b ff\x0c del\x7f c1\x85",
    "newlines": "line one\nline two\r\nline three",
    "zero_width": "zero\u200bwidth\u200d joiner\ufeff bom",
    "rtl_override": "invoice\u202eexe.pdf",
    "bidi_isolates": "\u2067\u05e9\u05dc\u05d5\u05dd\u2069 \u0645\u0631\u062d\u0628\u0627",
    "invalid_utf8": b"caf\xe9 \xff\xfe".decode("utf-8", "surrogateescape"),
    "astral": "key \U0001f511 \U0001d54f \u00e9\u0301",
    "whitespace_only": " \t ",
}

# Raw bytes for where a parser meets them before Python has a str (an HTTP body, a file name
# on the wire): not UTF-8, with a NUL and a lone continuation byte.
INVALID_UTF8_BYTES = b"name-\xc3\x28-\xff\xfe-\x00-\x80"

# Values a short field (a name, a tag key) is expected to accept: the corpus without the
# oversized strings.
SHORT_TEXT = {k: v for k, v in TEXT.items() if not k.startswith("big_")}

DATES: dict[str, dt.date] = {
    "year_1": dt.date(1, 1, 1),
    "before_epoch": dt.date(1900, 1, 1),
    "epoch": dt.date(1970, 1, 1),
    "y2038": dt.date(2038, 1, 19),
    "year_9999": dt.date(9999, 12, 31),
}
# Dates as a user might type them into a form: impossible ones too.
DATE_STRINGS: dict[str, str] = {
    **{k: v.isoformat() for k, v in DATES.items()},
    "feb_30": "2026-02-30",
    "year_10000": "10000-01-01",
    "year_0": "0000-01-01",
    "garbage": "<script>1</script>",
}

NUMBERS: dict[str, str] = {
    "negative": "-1",
    "zero": "0",
    "huge": "9" * 40,
    "int64_max": str(2**63 - 1),
    "int64_over": str(2**63),
    "float": "1.5",
    "exponent": "1e309",
    "nan": "NaN",
    "infinity": "Infinity",
    "text": "ten",
}


# Ids as a client may send them in a path, a query string, a form or a JSON body: beyond the
# database's integer range (PostgreSQL bigint, SQLite's 64-bit integer), and not ids at all.
# Every one must be a 400 (or the form again with its error) or a 404, never a 500.
IDS: dict[str, str] = {
    "int32_over": str(2**31),
    "int64_max": str(2**63 - 1),
    "int64_over": str(2**63),
    "uint64_over": str(2**64),
    "huge": "9" * 40,
    "zero": "0",
    "negative": "-1",
    "int64_under": str(-(2**63) - 1),
    "float": "1.5",
    "exponent": "1e309",
    "text": "ten",
}
# The ids a URL's <int:...> converter lets through (digits only).
PATH_IDS = {k: v for k, v in IDS.items() if v.isdigit()}


def count() -> int:
    """How many hostile values the corpus holds (text, dates, numbers, ids, raw bytes)."""
    return len(TEXT) + len(DATE_STRINGS) + len(NUMBERS) + len(IDS) + 1


# --- what "stored faithfully" means --------------------------------------------------------


def expected_stored(value: str) -> str:
    """What a faithful store reads back for ``value``: the value itself, except NUL and lone
    surrogates, which :func:`apps.core.text.storable` turns into visible escapes."""
    return storable(value)


def assert_stored_faithfully(stored, sent) -> None:
    """``stored`` equals ``sent`` (recursively for dicts/lists), up to :func:`expected_stored`."""
    assert stored == storable_tree(sent), f"stored {_short(stored)} for sent {_short(sent)}"


def _short(value, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} chars)"


# --- "refused clearly, never a 500" --------------------------------------------------------


def assert_stored_or_refused(response, *, stored: bool | None = None, bad_request_ok: bool = False) -> str:
    """A form POST either stored (a redirect) or refused clearly (200 with an error shown).

    Returns ``"stored"`` or ``"refused"``; ``stored`` True/False demands one of them.
    ``bad_request_ok`` also accepts Django's own 400 for a request it will not parse at all
    (e.g. a multipart part header over 1,024 bytes), which no browser sends.
    """
    assert response.status_code < 500, f"server error {response.status_code}"
    if response.status_code in (301, 302, 303):
        outcome = "stored"
    elif response.status_code == 400 and bad_request_ok:
        outcome = "refused"
    else:
        assert response.status_code in (200, 400), response.status_code
        body = response.content.decode()
        assert re.search(r'class="[^"]*(errorlist|msg-error|error)[^"]*"', body), "refused without saying why"
        outcome = "refused"
    if stored is not None:
        assert outcome == ("stored" if stored else "refused"), f"expected {'stored' if stored else 'refused'}, got {outcome}"
    return outcome


# --- "rendered escaped" ---------------------------------------------------------------------

# What must never reach a page unescaped: markup the corpus carries.
_RAW_MARKUP = ("<script>alert(", "<img src=x", "<svg onload", "<b>g")  # the pages have SVG charts of their own


def page_body(response_or_html) -> str:
    """The HTML after ``</head>`` (the head carries the page's own scripts)."""
    html = response_or_html if isinstance(response_or_html, str) else response_or_html.content.decode()
    return html.split("</head>", 1)[-1]


def assert_escaped_html(response_or_html, values: Iterable[str] = ()) -> None:
    """No hostile markup reaches the page raw; each value that carries ``<`` is absent as-is.

    Values that are shown at all appear HTML-escaped (``&lt;``); truncation on list pages is
    allowed, so presence is not required here (check it in the test where it matters).
    """
    body = page_body(response_or_html)
    for marker in _RAW_MARKUP:
        assert marker not in body, f"raw {marker!r} reached the page"
    for value in values:
        if "<" in value and len(value) > 3:
            assert value not in body, f"unescaped {_short(value)} in the page"


# --- exports (for the evidence-pack engineer: XLSX, JSON, any file) -------------------------

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def assert_no_formula_cells(xlsx: Path | str | bytes) -> int:
    """No cell of any sheet is a formula, and every string that starts like one is stored as
    text (``data_type == "s"``). Returns how many cells were checked."""
    import io

    from openpyxl import load_workbook

    source = io.BytesIO(xlsx) if isinstance(xlsx, bytes) else xlsx
    workbook = load_workbook(source, read_only=False)
    checked = 0
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.value is None:
                    continue
                checked += 1
                assert cell.data_type != "f", f"{sheet.title}!{cell.coordinate} is a formula: {_short(cell.value)}"
                if isinstance(cell.value, str) and cell.value.startswith(FORMULA_PREFIXES):
                    assert cell.data_type == "s", f"{sheet.title}!{cell.coordinate} is not text"
                    # quotePrefix keeps it text after a user edits the cell (full-width ＝ included)
                    assert cell.quotePrefix, f"{sheet.title}!{cell.coordinate} starts like a formula without quotePrefix"
    return checked


def assert_json_faithful(document: bytes | str, sent: str) -> None:
    """``document`` parses as JSON and contains ``expected_stored(sent)`` as a string value."""
    data = json.loads(document)
    wanted = expected_stored(sent)
    found = []

    def walk(node):
        if isinstance(node, str):
            found.append(node == wanted)
        elif isinstance(node, dict):
            for k, v in node.items():
                walk(k)
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(data)
    assert any(found), f"{_short(sent)} not found verbatim in the JSON"


def as_number(text: str) -> Decimal | None:
    """A NUMBERS entry as a Decimal (None when it is not a number), for expected outcomes."""
    try:
        value = Decimal(text)
    except ArithmeticError:
        return None
    return value if value.is_finite() else None


def check_each(values: dict[str, Any], check: Callable[[str, Any], None]) -> None:
    """Run ``check(id, value)`` for every corpus value; report every failing value at once.

    One test per entry point with the values in a loop (not one test per value): the
    catalog fixture alone would otherwise cost more than the whole corpus.
    """
    failures = []
    for key, value in values.items():
        try:
            check(key, value)
        except AssertionError as exc:
            failures.append(f"{key}: {str(exc)[:600]}")
    assert not failures, "\n".join(failures)
