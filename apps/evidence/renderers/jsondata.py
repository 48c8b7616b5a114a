"""pack.json: the gathered data as deterministic JSON (sorted keys, the gatherer's stable
ordering), so two builds as of the same time have the same bytes and the same SHA-256.
Its schema is apps/evidence/schema/pack.schema.json (shipped in the pack too).

Written incrementally: a streamed population (:class:`~apps.evidence.packdata.Rows`) goes out
row by row, every other member whole; the bytes are those of ``json_bytes`` of the whole
document (orjson's compact form, sorted keys), which the tests check.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import IO, Any

import orjson

from apps.evidence.packdata import PackData, Rows

OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE
_WHOLE = 1000  # a longer list member (the identities) is written row by row too, not encoded whole


def _rows_as_list(value: Any) -> list[Any]:
    if isinstance(value, Rows):
        return list(value)
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


def json_bytes(data: dict) -> bytes:
    """``data`` as orjson bytes with sorted keys and a final newline (a streamed population
    read into a list: for small documents and tests; :func:`write_json` streams it)."""
    return orjson.dumps(data, option=OPTIONS, default=_rows_as_list)


def write_json(document: dict[str, Any], fh: IO[bytes]) -> str:
    """Write ``document`` as :func:`json_bytes` would, streaming its :class:`Rows` members and its
    long lists (their encoding is never held whole); returns the SHA-256 of the bytes written."""
    digest = hashlib.sha256()

    def out(chunk: bytes) -> None:
        digest.update(chunk)
        fh.write(chunk)

    if not any(isinstance(value, Rows) for value in document.values()):
        out(json_bytes(document))
        return digest.hexdigest()
    out(b"{")
    for n, key in enumerate(sorted(document)):  # orjson's OPT_SORT_KEYS order
        out((b"," if n else b"") + orjson.dumps(key) + b":")
        value = document[key]
        if not isinstance(value, Rows) and not (isinstance(value, list) and len(value) > _WHOLE):
            out(orjson.dumps(value, option=orjson.OPT_SORT_KEYS))
            continue
        written, batch = 0, []
        out(b"[")
        for row in value:
            batch.append(orjson.dumps(row, option=orjson.OPT_SORT_KEYS))
            if len(batch) >= 1000:
                out((b"," if written else b"") + b",".join(batch))
                written += len(batch)
                batch.clear()
        if batch:
            out((b"," if written else b"") + b",".join(batch))
        out(b"]")
    out(b"}\n")
    return digest.hexdigest()


def render_json(data: PackData, path: Path) -> None:
    with open(path, "wb") as fh:
        write_json(data.as_dict(), fh)
