"""manifest.json and its check: the SHA-256 of every file, the pack's own hash, a signature.

``pack_hash`` is the SHA-256 of the lines ``"<sha256>  <name>\n"`` for every file, sorted by
name (the format of ``sha256sum``), so it can be recomputed with standard tools. The signature
covers the canonical JSON of the manifest without its ``signature`` member (sorted keys, no
spaces), so changing any field of the manifest — a hash, the pack id, the as-of time — breaks it.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
import zlib
from dataclasses import dataclass, field

import orjson

from apps.audit.checkpoints import AnchorInvalid, anchor_check
from apps.evidence import signing

MANIFEST = "manifest.json"
FORMAT = "keytrail-evidence-pack-manifest/1"


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


def verify_zip(source, *, public_key_hex: str | None = None, progress=None) -> VerifyReport:
    """Check a pack zip (a path, bytes or a binary file object) against its manifest;
    ``progress(done, total, name)`` is called after each file is hashed.

    Lists every difference: a file changed, missing or extra; a manifest that does not parse,
    whose pack hash does not match its files, or whose signature is bad or from another key."""
    report = VerifyReport()
    trusted = [public_key_hex] if public_key_hex else signing.trusted_public_keys()
    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(source)
    try:
        zf = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        report.fail(f"not a readable zip file: {exc}")
        return report
    with zf:
        names = [i.filename for i in zf.infolist() if not i.is_dir()]
        if MANIFEST not in names:
            report.fail("manifest.json is missing")
            return report
        try:
            manifest = orjson.loads(zf.read(MANIFEST))
            files = manifest["files"]
            assert isinstance(files, dict)
        except (orjson.JSONDecodeError, KeyError, AssertionError, TypeError):
            report.fail("manifest.json is not a valid manifest")
            return report
        report.manifest = manifest
        signature = manifest.get("signature") or {}
        if signature.get("public_key") not in trusted:
            expected = ", ".join(signing.key_id(k) for k in trusted)
            report.fail(f"manifest signed with an unknown key ({signature.get('key_id', 'none')}); expected key {expected}")
        elif not signing.verify(_canonical(manifest), str(signature.get("value", "")), str(signature["public_key"])):
            report.fail("bad manifest signature: the manifest was changed after signing")
        if manifest.get("audit_anchor") is not None:  # the audit chain's head, signed at build (apps.audit.checkpoints)
            try:
                anchor_check(manifest["audit_anchor"], label="audit anchor")
            except AnchorInvalid as exc:
                report.fail(str(exc))
        try:
            if pack_hash(files) != manifest.get("pack_hash"):
                report.fail("pack hash does not match the file hashes in the manifest")
        except (KeyError, TypeError):
            report.fail("manifest file entries are malformed")
        for position, name in enumerate(sorted(files), start=1):
            if progress is not None:
                progress(position - 1, len(files), name)
            if name not in names:
                report.fail(f"missing file: {name}")
                continue
            h = hashlib.sha256()
            try:
                with zf.open(name) as fh:
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
        for name in sorted(set(names) - set(files) - {MANIFEST}):
            report.fail(f"extra file not in the manifest: {name}")
    return report
