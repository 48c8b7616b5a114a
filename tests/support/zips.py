"""Altered pack zips, built the way an attacker would: the five shapes of issue #19 and a zip bomb.

Python's ``zipfile`` writes most of them (it warns on a duplicate name but writes it);
:func:`zip_bomb` writes its archive by hand, since no library writes an entry from a
ready-made deflate stream, and compressing gigabytes of zeros would take the test a minute.
"""

from __future__ import annotations

import io
import struct
import warnings
import zipfile
import zlib

MANIFEST = "manifest.json"


def entries(content: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(content)) as zf:
        return [(name, zf.read(name)) for name in zf.namelist()]


def write(items: list[tuple[str | zipfile.ZipInfo, bytes]], *, comment: bytes = b"") -> bytes:
    out = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Duplicate name": that is the point
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name, data in items:
                zf.writestr(name, data)
            zf.comment = comment
    return out.getvalue()


def duplicate_entry(content: bytes, name: str, altered: bytes) -> bytes:
    """Two entries named ``name``: the altered one first (``unzip -p`` shows it), the original last
    (Python's zipfile reads that one)."""
    items = entries(content)
    return write([(name, altered), *items])


def directory_with_data(content: bytes, data: bytes = b"hidden payload") -> bytes:
    info = zipfile.ZipInfo("evidence/")
    info.compress_type = zipfile.ZIP_DEFLATED
    return write([*entries(content), (info, data)])


def extra_entry(content: bytes, name: str = "notes.txt") -> bytes:
    return write([*entries(content), (name, b"added later")])


def manifest_with_duplicated_key(content: bytes, key: str = "pack_id", value: str = "KT-FORGED") -> bytes:
    """The manifest with ``key`` given twice, the forged value first: readers that keep the first
    value (some do) show it; orjson and Python keep the last, signed one."""
    items = entries(content)
    forged = [(n, b'{"%s":"%s",' % (key.encode(), value.encode()) + d[1:] if n == MANIFEST else d) for n, d in items]
    return write(forged)


def manifest_reencoded(content: bytes) -> bytes:
    """The same manifest, same values, spelt differently (indented)."""
    import json

    items = entries(content)
    return write([(n, json.dumps(json.loads(d), indent=2).encode() if n == MANIFEST else d) for n, d in items])


def with_comment(content: bytes, comment: bytes = b"reviewed and approved") -> bytes:
    return write(entries(content), comment=comment)


def prepended(content: bytes, prefix: bytes = b"MZ\x90\x00 self-extractor stub ") -> bytes:
    return prefix + content


def zip_bomb(*, entries_count: int = 4, expanded_per_entry: int = 1 << 30, names: list[str] | None = None) -> bytes:
    """A zip whose entries each inflate to ``expanded_per_entry`` zero bytes from about
    1/1000th of that (deflate's best). The stream is built from one flushed block repeated, so
    building it costs milliseconds. The CRC is not computed (it would cost gigabytes of
    hashing); a verifier must refuse the archive before it would ever check one."""
    block_size = 1 << 20
    assert expanded_per_entry % block_size == 0
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(bytes(block_size)) + compressor.flush(zlib.Z_FULL_FLUSH)
    stream = block * (expanded_per_entry // block_size) + compressor.flush(zlib.Z_FINISH)
    names = names or [f"pack{i}.json" for i in range(entries_count)]
    local, central = io.BytesIO(), io.BytesIO()
    for name in names:
        encoded = name.encode()
        offset = local.tell()
        fields = (20, 0, zipfile.ZIP_DEFLATED, 0, 0, 0, len(stream), expanded_per_entry, len(encoded), 0)
        local.write(b"PK\x03\x04" + struct.pack("<HHHHHIIIHH", *fields) + encoded + stream)
        central.write(b"PK\x01\x02" + struct.pack("<HHHHHHIIIHHHHHII", 20, *fields, 0, 0, 0, 0, offset) + encoded)
    body = local.getvalue()
    directory = central.getvalue()
    end = b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, len(names), len(names), len(directory), len(body), 0)
    return body + directory + end
