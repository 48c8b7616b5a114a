"""The manifest: verification passes for an intact pack and lists every difference otherwise."""

import io
import zipfile

import orjson
import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.evidence import signing
from apps.evidence.builder import build_files
from apps.evidence.gather import gather
from apps.evidence.manifest import verify_zip
from apps.evidence.renderers.jsondata import json_bytes

pytestmark = pytest.mark.django_db
_CACHE: dict[str, bytes] = {}
FILES = ["oscal-assessment-results.json", "pack.json", "pack.pdf", "pack.schema.json", "pack.xlsx"]


@pytest.fixture
def pack_bytes(request, tmp_path):
    """One real pack for the module (verification needs no database once it is built)."""
    if "zip" not in _CACHE:
        world = request.getfixturevalue("world")
        data = gather(engagement=world["engagement"], as_of=timezone.now(), sample_size=3, sample_seed=5)
        built = build_files(data=data, workdir=tmp_path, meta={"pack_id": "KT-MANIFEST", "as_of": data.as_of, "built_at": data.as_of})
        _CACHE["zip"] = built.zip_path.read_bytes()
    return _CACHE["zip"]


def _rewrite(content: bytes, change) -> bytes:
    """A copy of the zip with ``change(name, bytes) -> bytes | None`` applied (None drops the file)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            new = change(name, src.read(name))
            if new is not None:
                dst.writestr(name, new)
    return out.getvalue()


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def test_an_intact_pack_verifies(pack_bytes):
    report = verify_zip(pack_bytes)
    assert report.ok, report.problems
    assert report.files_checked == 5 and "is intact" in report.summary()


@pytest.mark.parametrize("name", FILES)
def test_one_changed_byte_in_any_file_is_found(pack_bytes, name):
    changed = _rewrite(pack_bytes, lambda n, b: _flip(b, len(b) // 2) if n == name else b)
    report = verify_zip(changed)
    assert not report.ok
    assert report.problems == [p for p in report.problems if p.startswith(f"changed file: {name}")] and len(report.problems) == 1


def test_a_byte_changed_inside_the_zip_itself_is_found(pack_bytes):
    with zipfile.ZipFile(io.BytesIO(pack_bytes)) as zf:
        info = zf.getinfo("pack.json")
    offset = info.header_offset + 30 + len(info.filename) + len(info.extra) + 10  # inside the compressed data
    report = verify_zip(_flip(pack_bytes, offset))
    assert not report.ok and any("pack.json" in p for p in report.problems)


def test_missing_and_extra_files_are_listed(pack_bytes):
    changed = _rewrite(pack_bytes, lambda n, b: None if n == "pack.xlsx" else b)
    buffer = io.BytesIO(changed)
    with zipfile.ZipFile(buffer, "a") as zf:
        zf.writestr("notes.txt", b"added later")
    report = verify_zip(buffer.getvalue())
    assert "missing file: pack.xlsx" in report.problems and "extra file not in the manifest: notes.txt" in report.problems


def test_a_changed_manifest_breaks_the_signature(pack_bytes):
    def edit(name, content):
        if name != "manifest.json":
            return content
        manifest = orjson.loads(content)
        manifest["as_of"] = "2020-01-01T00:00:00Z"
        return json_bytes(manifest)

    report = verify_zip(_rewrite(pack_bytes, edit))
    assert report.problems[0] == "bad manifest signature: the manifest was changed after signing" and report.files_checked == 0


def test_a_manifest_rewritten_to_match_changed_files_is_still_caught(pack_bytes):
    """Changing a file and its hash in the manifest (and the pack hash) without the key fails the signature."""
    from apps.evidence.manifest import pack_hash

    def edit(name, content):
        if name == "pack.json":
            return content.replace(b"FY2026", b"FY2025")
        if name == "manifest.json":
            import hashlib

            manifest = orjson.loads(content)
            with zipfile.ZipFile(io.BytesIO(pack_bytes)) as zf:
                forged = zf.read("pack.json").replace(b"FY2026", b"FY2025")
            manifest["files"]["pack.json"]["sha256"] = hashlib.sha256(forged).hexdigest()
            manifest["pack_hash"] = pack_hash(manifest["files"])
            return json_bytes(manifest)
        return content

    report = verify_zip(_rewrite(pack_bytes, edit))
    assert report.problems[0] == "bad manifest signature: the manifest was changed after signing" and report.files_checked == 0


def test_a_pack_signed_by_another_key_is_refused(pack_bytes, settings):
    settings.KEYTRAIL_PACK_SIGNING_KEY = "11" * 32
    report = verify_zip(pack_bytes)
    assert not report.ok and report.problems[0].startswith("manifest signed with an unknown key")
    settings.KEYTRAIL_PACK_SIGNING_KEY = ""
    assert verify_zip(pack_bytes, public_key_hex=signing.public_key_hex()).ok


def test_after_a_key_rotation_old_packs_verify_with_the_retired_public_key_kept(pack_bytes, settings):
    old_public = signing.public_key_hex()  # the key that signed pack_bytes
    settings.KEYTRAIL_PACK_SIGNING_KEY = "22" * 32  # rotated
    report = verify_zip(pack_bytes)
    assert not report.ok and signing.key_id(signing.public_key_hex()) in report.problems[0]
    settings.KEYTRAIL_PACK_RETIRED_PUBLIC_KEYS = [old_public.upper()]
    assert verify_zip(pack_bytes).ok
    # A retired key is trusted to verify, never used to sign: new manifests carry the new key.
    assert signing.sign(b"x")["public_key"] == signing.public_key_hex() != old_public


def test_not_a_zip_is_a_clear_refusal():
    report = verify_zip(b"not a zip")
    assert not report.ok and report.problems[0].startswith("not a readable zip file")


def test_verify_pack_command_exit_codes(pack_bytes, tmp_path, capsys):
    good = tmp_path / "good.zip"
    good.write_bytes(pack_bytes)
    call_command("verify_pack", str(good))
    captured = capsys.readouterr()
    assert "is intact" in captured.out and "pack.pdf" in captured.out
    files = len(verify_zip(pack_bytes).manifest["files"])
    assert f"hashing 0/{files} (0%)" in captured.err and f"hashing {files}/{files} (100%) done" in captured.err  # progress, on stderr
    bad = tmp_path / "bad.zip"
    bad.write_bytes(_rewrite(pack_bytes, lambda n, b: _flip(b, 100) if n == "pack.pdf" else b))
    with pytest.raises(SystemExit) as exit_info:
        call_command("verify_pack", str(bad))
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "does NOT verify" in err and "changed file: pack.pdf" in err
