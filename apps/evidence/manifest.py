"""manifest.json and its check: the SHA-256 of every file, the pack's own hash, a signature.

``pack_hash`` is the SHA-256 of the lines ``"<sha256>  <name>\n"`` for every file, sorted by
name (the format of ``sha256sum``), so it can be recomputed with standard tools. The signature
covers the canonical JSON of the manifest without its ``signature`` member (sorted keys, no
spaces), so changing any field of the manifest — a hash, the pack id, the as-of time — breaks it;
and ``manifest.json`` must be byte for byte the canonical encoding of what was signed, so the
bytes verified are the bytes signed (no second spelling: duplicated keys, reordering, padding).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
import zlib
from dataclasses import dataclass, field

import orjson
from django.conf import settings

from apps.audit.checkpoints import AnchorInvalid, anchor_check
from apps.evidence import signing, ziplayout

MANIFEST = "manifest.json"
FORMAT = "keytrail-evidence-pack-manifest/1"
MANIFEST_MAX_BYTES = 1 << 20  # a manifest lists a handful of files: a few KB


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def pack_hash(files: dict[str, dict]) -> str:
    lines = "".join(f"{files[name]['sha256']}  {name}\n" for name in sorted(files))
    return hashlib.sha256(lines.encode()).hexdigest()


def _canonical(manifest: dict) -> bytes:
    return orjson.dumps({k: v for k, v in manifest.items() if k != "signature"}, option=orjson.OPT_SORT_KEYS)


def build_manifest(*, files: dict[str, dict], meta: dict) -> dict:
    """``files``: {name: {"sha256", "size"}}; ``meta``: pack id, engagement, as of, built at/by, version."""
    manifest = {"format": FORMAT, **meta, "files": files, "pack_hash": pack_hash(files)}
    manifest["signature"] = signing.sign(_canonical(manifest))
    return manifest


@dataclass
class VerifyReport:
    ok: bool = True
    problems: list[str] = field(default_factory=list)
    manifest: dict = field(default_factory=dict)
    files_checked: int = 0

    def fail(self, message: str) -> None:
        self.ok = False
        self.problems.append(message)

    def summary(self) -> str:
        m = self.manifest
        if self.ok:
            return (
                f"pack {m.get('pack_id')} is intact: {self.files_checked} files match the manifest, pack hash {m.get('pack_hash')}, "
                f"signature valid ({m.get('signature', {}).get('algorithm')} key {m.get('signature', {}).get('key_id')})"
            )
        return f"pack {m.get('pack_id', '(unknown)')} does NOT verify: {len(self.problems)} problem(s)"


def _limits() -> ziplayout.Limits:
    return ziplayout.Limits(
        max_expanded=settings.KEYTRAIL_PACK_VERIFY_MAX_EXPANDED_BYTES,
        max_ratio=settings.KEYTRAIL_PACK_VERIFY_MAX_RATIO,
        ratio_floor=settings.KEYTRAIL_PACK_VERIFY_RATIO_FLOOR_BYTES,
    )


def _refuse_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    keys = [key for key, _ in pairs]
    duplicated = sorted({key for key in keys if keys.count(key) > 1})
    if duplicated:
        raise ValueError(f"duplicated JSON key {duplicated[0]!r}")
    return dict(pairs)


def parse_manifest(raw: bytes) -> dict:
    """The manifest in ``raw``, which must be its one canonical encoding (orjson, sorted keys,
    compact, final newline: what the builder writes). Raises ValueError otherwise.

    Canonical bytes are what make "the signature covers the manifest" mean "covers these
    bytes": a key given twice (which JSON readers resolve differently), reordered keys, other
    spacing or escapes would each be a second byte string for one signed manifest."""
    try:
        json.loads(raw, object_pairs_hook=_refuse_duplicate_keys)
        manifest = orjson.loads(raw)
    except (ValueError, UnicodeDecodeError, orjson.JSONDecodeError) as exc:
        raise ValueError(f"manifest.json is not a valid manifest ({exc})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise ValueError("manifest.json is not a valid manifest")
    if orjson.dumps(manifest, option=orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE) != raw:
        raise ValueError("manifest.json is not in its canonical form (re-encoded, reordered or padded after signing)")
    return manifest


def _open_bytes(source):
    if isinstance(source, (bytes, bytearray)):
        return io.BytesIO(source), False
    if isinstance(source, (str, os.PathLike)):
        return open(source, "rb"), True  # noqa: SIM115 - closed by verify_zip
    return source, False


def verify_zip(source, *, public_key_hex: str | None = None, progress=None) -> VerifyReport:
    """Check a pack zip (a path, bytes or a seekable binary file object) against its manifest;
    ``progress(done, total, name)`` is called after each file is hashed.

    In this order, each step only when the ones before passed: the archive's layout
    (:mod:`apps.evidence.ziplayout`: one entry per name, no directories, nothing prepended,
    appended, hidden or commented, sizes within the limits); the manifest (canonical bytes,
    signed by the trusted key); the entries against the manifest (none missing, none extra,
    sizes as signed); and only then the files' hashes, streamed. So an upload that is not
    signed by this installation costs a read of its headers, never a decompression."""
    report = VerifyReport()
    trusted = [public_key_hex] if public_key_hex else signing.trusted_public_keys()
    fp, owned = _open_bytes(source)
    try:
        try:
            zf = zipfile.ZipFile(fp)
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            report.fail(f"not a readable zip file: {exc}")
            return report
        with zf:
            layout = ziplayout.check_layout(zf, fp, limits=_limits())
            for problem in layout.problems:
                report.fail(problem)
            if not report.ok:
                return report
            manifest = _signed_manifest(zf, layout.entries, trusted, report)
            if manifest is None:
                return report
            if manifest.get("audit_anchor") is not None:  # the audit chain's head, signed at build (apps.audit.checkpoints)
                try:
                    anchor_check(manifest["audit_anchor"], label="audit anchor")
                except AnchorInvalid as exc:
                    report.fail(str(exc))
            _check_files(zf, layout.entries, manifest["files"], report, progress)
    finally:
        if owned:
            fp.close()
    return report


def _signed_manifest(zf: zipfile.ZipFile, entries: dict[str, zipfile.ZipInfo], trusted: list[str], report: VerifyReport) -> dict | None:
    """The manifest when its bytes are canonical and its signature is good; None (with the
    problem recorded) otherwise."""
    info = entries.get(MANIFEST)
    if info is None:
        report.fail("manifest.json is missing")
        return None
    if info.file_size > MANIFEST_MAX_BYTES:
        report.fail(f"manifest.json is {info.file_size:,} bytes; a manifest is at most {MANIFEST_MAX_BYTES:,}")
        return None
    try:
        with zf.open(info) as fh:
            raw = fh.read(MANIFEST_MAX_BYTES + 1)
        manifest = parse_manifest(raw)
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
        report.fail(f"manifest.json is unreadable: {exc}")
        return None
    except ValueError as exc:
        report.fail(str(exc))
        return None
    report.manifest = manifest
    signature = manifest.get("signature") if isinstance(manifest.get("signature"), dict) else {}
    if signature.get("public_key") not in trusted:
        expected = ", ".join(signing.key_id(k) for k in trusted)
        report.fail(f"manifest signed with an unknown key ({signature.get('key_id', 'none')}); expected key {expected}")
    elif not signing.verify(_canonical(manifest), str(signature.get("value", "")), str(signature["public_key"])):
        report.fail("bad manifest signature: the manifest was changed after signing")
    if not report.ok:
        report.fail("no file was hashed: the manifest they would be checked against is not trusted")
        return None
    return manifest


def _check_files(zf, entries: dict[str, zipfile.ZipInfo], files: dict, report: VerifyReport, progress) -> None:
    try:
        if pack_hash(files) != report.manifest.get("pack_hash"):
            report.fail("pack hash does not match the file hashes in the manifest")
    except (KeyError, TypeError):
        report.fail("manifest file entries are malformed")
        return
    for name in sorted(set(entries) - set(files) - {MANIFEST}):
        report.fail(f"extra file not in the manifest: {name}")
    for position, name in enumerate(sorted(files), start=1):
        if progress is not None:
            progress(position - 1, len(files), name)
        info = entries.get(name)
        if info is None:
            report.fail(f"missing file: {name}")
            continue
        if info.file_size != files[name].get("size"):
            report.fail(f"changed file: {name} ({info.file_size:,} bytes, manifest says {files[name].get('size')})")
            continue
        h = hashlib.sha256()
        try:
            with zf.open(info) as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:  # a bad CRC or stream: the stored bytes were altered
            report.fail(f"changed file: {name} (unreadable: {exc})")
            continue
        report.files_checked += 1
        if h.hexdigest() != files[name].get("sha256"):
            report.fail(f"changed file: {name} (SHA-256 {h.hexdigest()}, manifest says {files[name].get('sha256')})")
    if progress is not None:
        progress(len(files), len(files), "done")
