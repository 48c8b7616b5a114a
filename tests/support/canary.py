"""Searching what keytrail produced for a secret's value.

The simulators seed every secret value with :data:`apps.devtools.simulators.organisation.SECRET_CANARY`.
keytrail must never read a value, so the canary may appear nowhere it wrote: the database,
its logs, uploaded or generated files. :func:`assert_no_canary` searches files and
directories for the canary in the encodings a leak could take (UTF-8, UTF-16, hex, base64)
and inside the containers keytrail writes (ZIP-based files such as XLSX/DOCX/packs, and the
compressed streams of PDFs), so the evidence-pack suite can pass its output straight in::

    assert_no_canary([pack_dir, log_file], extra_bytes={"stdout": out})
"""

from __future__ import annotations

import base64
import io
import re
import zipfile
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path

from apps.devtools.simulators.organisation import SECRET_CANARY

_PDF_STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.S)


def canary_patterns(canary: str = SECRET_CANARY) -> dict[str, bytes]:
    """The byte patterns that would betray ``canary``: plain, UTF-16, hex, and base64 at
    each of the three alignments it could take inside a longer encoded value."""
    raw = canary.encode()
    patterns = {
        "utf-8": raw,
        "utf-16-le": canary.encode("utf-16-le"),
        "utf-16-be": canary.encode("utf-16-be"),
        "hex": raw.hex().encode(),
        "HEX": raw.hex().upper().encode(),
    }
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw)
        # Drop the characters that mix in the neighbouring bytes: the middle is fixed.
        start = (shift * 4 + 2) // 3 + (1 if shift else 0)
        patterns[f"base64+{shift}"] = encoded[start : len(encoded) - 4]
    return patterns


def _expand(name: str, data: bytes, depth: int = 0) -> Iterable[tuple[str, bytes]]:
    """``data`` itself, plus the members of a ZIP and the inflated streams of a PDF."""
    yield name, data
    if depth > 2:
        return
    if data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                for member in archive.namelist():
                    yield from _expand(f"{name}!{member}", archive.read(member), depth + 1)
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError):
            pass
    if data[:5] == b"%PDF-":
        for i, match in enumerate(_PDF_STREAM.finditer(data)):
            try:
                yield f"{name}#stream{i}", zlib.decompress(match.group(1))
            except zlib.error:
                continue


def find_canary(
    paths: Iterable[Path | str], *, extra_bytes: Mapping[str, bytes] | None = None, canary: str = SECRET_CANARY
) -> tuple[list[str], int]:
    """``(hits, files_searched)``: every ``where: encoding`` the canary occurs in."""
    patterns = canary_patterns(canary)
    blobs: list[tuple[str, bytes]] = list((extra_bytes or {}).items())
    searched = 0
    for path in map(Path, paths):
        files = [p for p in sorted(path.rglob("*")) if p.is_file()] if path.is_dir() else [path] if path.exists() else []
        for file in files:
            blobs.append((str(file), file.read_bytes()))
    hits = []
    for name, data in blobs:
        searched += 1
        for where, content in _expand(name, data):
            hits += [f"{where}: {encoding}" for encoding, pattern in patterns.items() if pattern in content]
    return hits, searched


def assert_no_canary(paths: Iterable[Path | str], *, extra_bytes: Mapping[str, bytes] | None = None, canary: str = SECRET_CANARY) -> int:
    """Fail if the canary occurs in any file under ``paths`` (files or directories, searched
    recursively) or in ``extra_bytes`` (name -> bytes, e.g. captured output). Returns how
    many files and blobs were searched, so a caller can check it searched something."""
    hits, searched = find_canary(paths, extra_bytes=extra_bytes, canary=canary)
    assert not hits, "a secret value leaked: " + "; ".join(hits[:20])
    return searched
