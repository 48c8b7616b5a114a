"""Making any text from outside storable without losing what it said.

PostgreSQL text and jsonb cannot hold NUL, and UTF-8 cannot encode lone surrogates (which
Python produces when undecodable bytes are decoded with ``surrogateescape``). Both are
replaced by visible escapes (``\\x00``, ``\\udcff``), so the stored value still shows
exactly what arrived. Everything else, including formula prefixes, HTML, right-to-left
and zero-width characters, is kept verbatim: escaping is the renderer's job.
"""

from __future__ import annotations

import re
from typing import Any

_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


def storable(text: str) -> str:
    if text.isascii() and "\x00" not in text:  # the common case, without the regex
        return text
    if not _UNSTORABLE.search(text):
        return text
    return _UNSTORABLE.sub(lambda m: "\\x00" if m.group() == "\x00" else f"\\u{ord(m.group()):04x}", text)


def storable_tree(value: Any) -> Any:
    """Apply :func:`storable` to every string (keys included) in a JSON-like structure."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {storable(str(k)): storable_tree(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [storable_tree(v) for v in value]
    return value


# Bidirectional classes that can reorder the text around a value: right-to-left letters and
# the explicit embedding, override and isolate controls (UAX #9).
_BIDI_ACTIVE = {"R", "AL", "RLE", "RLO", "LRE", "LRO", "PDF", "RLI", "LRI", "FSI", "PDI"}
_FSI, _PDI, _ISOLATE_OPENERS = "\u2068", "\u2069", "\u2066\u2067\u2068"


def isolate(value: Any) -> str:
    """``value`` as text, bidi-isolated when it could reorder what surrounds it (a right-to-left
    override in a name, ``invoice\u202egpj.exe``): wrapped in FIRST STRONG ISOLATE … POP
    DIRECTIONAL ISOLATE, which browsers, pango (the PDF) and window titles honour, and which
    also ends any embedding or override left open inside. A stray POP DIRECTIONAL ISOLATE in
    the value cannot close the wrapper early: one more isolate is opened for each. Text without
    such characters is returned unchanged. The value's own characters are all kept."""
    import unicodedata

    text = "" if value is None else str(value)
    if not any(unicodedata.bidirectional(ch) in _BIDI_ACTIVE for ch in text):
        return text
    depth = unmatched = 0
    for ch in text:
        if ch in _ISOLATE_OPENERS:
            depth += 1
        elif ch == _PDI:
            if depth:
                depth -= 1
            else:
                unmatched += 1
    return _FSI * (1 + unmatched) + text + _PDI * (1 + depth)  # the stray PDIs close the extra FSIs
