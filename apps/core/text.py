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
