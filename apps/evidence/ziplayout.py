"""The strict shape a pack zip must have before anything in it is read or trusted.

Python's ``zipfile`` is lenient where a verifier must not be: it reads the *last* of two
entries with one name (``unzip -p`` the first), skips bytes prepended to the archive, keeps a
comment, truncates a name at a NUL, and would inflate whatever sizes the central directory
declares. Two readers that disagree about what a zip holds make "verified" meaningless, so
:func:`check_layout` refuses every archive whose bytes are not exactly: local entries laid end
to end from offset 0, then the central directory, then the end record, nothing else. It reads
only headers (a few dozen bytes per entry), so it is cheap on any upload, and it bounds the work
that hashing may do later (total expanded size, compression ratio per entry).
"""

from __future__ import annotations

import struct
import zipfile
from dataclasses import dataclass, field

_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")  # 30 bytes; zipfile's structFileHeader
_LOCAL_SIGNATURE = b"PK\x03\x04"
_DESCRIPTOR_SIGNATURE = b"PK\x07\x08"
_END_RECORD = struct.Struct("<4sHHHHIIH")  # 22 bytes without a comment
_END_SIGNATURE = b"PK\x05\x06"
_FLAG_ENCRYPTED = 0x01
_FLAG_DESCRIPTOR = 0x08
METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}


@dataclass(frozen=True)
class Limits:
    """``max_expanded``: bytes all entries may expand to together; ``max_ratio``: expanded over
    compressed size for an entry larger than ``ratio_floor`` (small files of repeated text
    legitimately compress very well; a bomb is large by definition)."""

    max_expanded: int
    max_ratio: int
    ratio_floor: int


@dataclass
class Layout:
    problems: list[str] = field(default_factory=list)
    entries: dict[str, zipfile.ZipInfo] = field(default_factory=dict)


def _size(fp) -> int:
    fp.seek(0, 2)
    return fp.tell()


def _read_at(fp, offset: int, length: int) -> bytes:
    fp.seek(offset)
    return fp.read(length)


def check_layout(zf: zipfile.ZipFile, fp, *, limits: Limits) -> Layout:
    """Every structural problem of the open archive ``zf`` whose raw bytes are ``fp``; ``entries``
    maps each (unique, file) name to its ZipInfo. An empty ``problems`` means the archive holds
    exactly its entries and nothing a lenient reader could see differently."""
    layout = Layout()
    total = _size(fp)
    infos = zf.infolist()
    if zf.comment:
        layout.problems.append(f"the zip carries a comment ({len(zf.comment)} bytes); a pack has none")
    tail = _read_at(fp, total - _END_RECORD.size, _END_RECORD.size) if total >= _END_RECORD.size else b""
    if len(tail) != _END_RECORD.size or tail[:4] != _END_SIGNATURE:
        layout.problems.append("unexpected bytes after the zip's end record (a comment or appended data)")
    else:
        cd_size, cd_offset = _END_RECORD.unpack(tail)[5:7]
        if cd_offset + cd_size != total - _END_RECORD.size:
            layout.problems.append(
                "unexpected bytes between the central directory and the end record (or a zip64 archive, which a pack never is)"
            )
    seen: set[str] = set()
    expanded = 0
    for info in infos:
        name = info.filename
        if info.orig_filename != name:
            layout.problems.append(f"entry name with a NUL or a separator a reader may cut or rewrite: {info.orig_filename!r}")
        if name in seen:
            layout.problems.append(f"duplicate entry: {name} (readers disagree about which one they show)")
        seen.add(name)
        if info.is_dir():
            carried = f", carrying {info.file_size} bytes" if info.file_size or info.compress_size else ""
            layout.problems.append(f"directory entry: {name} (a pack has none{carried})")
        if info.flag_bits & _FLAG_ENCRYPTED:
            layout.problems.append(f"encrypted entry: {name}")
        if info.compress_type not in METHODS:
            layout.problems.append(f"entry {name} uses compression method {info.compress_type} (a pack uses stored or deflate)")
        expanded += info.file_size
        if info.file_size > limits.ratio_floor and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            layout.problems.append(
                f"entry {name} would expand {info.file_size:,} bytes from {info.compress_size:,} "
                f"(more than {limits.max_ratio}× its compressed size): refused as a zip bomb"
            )
        if not info.is_dir() and name not in layout.entries:
            layout.entries[name] = info
    if expanded > limits.max_expanded:
        layout.problems.append(f"the entries would expand to {expanded:,} bytes; the limit is {limits.max_expanded:,}")
    layout.problems.extend(_contiguity_problems(fp, infos, start_dir=zf.start_dir, total=total))
    return layout


def _contiguity_problems(fp, infos: list[zipfile.ZipInfo], *, start_dir: int, total: int) -> list[str]:
    """Entries must lie end to end from offset 0 up to the central directory: no bytes before
    the first (prepended data), between two (hidden data), or shared by two (overlapping entries,
    the quoted-overlap bomb)."""
    position = 0
    for info in sorted(infos, key=lambda i: i.header_offset):
        if info.header_offset != position:
            where = "before the first entry" if position == 0 else f"before entry {info.filename}"
            return [f"{abs(info.header_offset - position):,} unexpected bytes {where} (prepended or hidden data)"]
        header = _read_at(fp, position, _LOCAL_HEADER.size)
        if len(header) != _LOCAL_HEADER.size or header[:4] != _LOCAL_SIGNATURE:
            return [f"entry {info.filename} has no local header where the directory says"]
        fields = _LOCAL_HEADER.unpack(header)
        name_length, extra_length = fields[9], fields[10]
        local_name = _read_at(fp, position + _LOCAL_HEADER.size, name_length)
        if local_name != info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437", "replace"):
            return [f"entry {info.filename} is named differently in its local header"]
        position += _LOCAL_HEADER.size + name_length + extra_length + info.compress_size
        if info.flag_bits & _FLAG_DESCRIPTOR:
            position += 16 if _read_at(fp, position, 4) == _DESCRIPTOR_SIGNATURE else 12
    if position != start_dir:
        return [f"{abs(start_dir - position):,} unexpected bytes before the zip's central directory"]
    if start_dir > total:
        return ["the zip's central directory lies beyond its end"]
    return []
