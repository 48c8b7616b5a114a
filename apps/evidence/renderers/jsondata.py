"""pack.json: the gathered data as deterministic JSON (sorted keys, the gatherer's stable
ordering), so two builds as of the same time have the same bytes and the same SHA-256.
Its schema is apps/evidence/schema/pack.schema.json (shipped in the pack too)."""

from __future__ import annotations

from pathlib import Path

import orjson

from apps.evidence.packdata import PackData

OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE


def json_bytes(data: dict) -> bytes:
    """``data`` as orjson bytes with sorted keys and a final newline."""
    return orjson.dumps(data, option=OPTIONS)


def render_json(data: PackData, path: Path) -> None:
    with open(path, "wb") as fh:
        fh.write(json_bytes(data.as_dict()))
