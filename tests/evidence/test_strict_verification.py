"""Strict pack verification (issue #19, item 1): every altered-zip shape the probe found is
refused, the signature is checked before anything is hashed, expansion is capped, and the
upload check is rate-limited per user. Each shape is built from a real, intact pack."""

import io
import time
import zipfile

import orjson
import pytest
from django.urls import reverse
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.evidence.builder import build_files
from apps.evidence.gather import gather
from apps.evidence.manifest import verify_zip
from apps.evidence.renderers.jsondata import json_bytes
from tests.support import zips

pytestmark = pytest.mark.django_db
_CACHE: dict[str, bytes] = {}


@pytest.fixture
def pack_bytes(request, tmp_path):
    if "zip" not in _CACHE:
        world = request.getfixturevalue("world")
        data = gather(engagement=world["engagement"], as_of=timezone.now(), sample_size=2, sample_seed=3)
        built = build_files(data=data, workdir=tmp_path, meta={"pack_id": "KT-STRICT", "as_of": data.as_of, "built_at": data.as_of})
        _CACHE["zip"] = built.zip_path.read_bytes()
    return _CACHE["zip"]


def _altered_pack_json(pack_bytes: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(pack_bytes)) as zf:
        return zf.read("pack.json").replace(b"KT", b"XX", 1) + b" "


def test_the_intact_pack_and_a_faithful_rezip_verify(pack_bytes):
    assert verify_zip(pack_bytes).ok
    # Re-zipped entry for entry (another tool, same contents) is still the same pack.
    assert verify_zip(zips.write(zips.entries(pack_bytes))).ok, verify_zip(zips.write(zips.entries(pack_bytes))).problems


SHAPES = {
    "two pack.json entries, the altered one first": (
        lambda b: zips.duplicate_entry(b, "pack.json", _altered_pack_json(b)),
        "duplicate entry: pack.json",
    ),
    "a directory entry carrying data": (zips.directory_with_data, "directory entry: evidence/ (a pack has none, carrying 14 bytes)"),
    "a manifest with pack_id twice": (zips.manifest_with_duplicated_key, "duplicated JSON key 'pack_id'"),
    "a zip comment": (zips.with_comment, "the zip carries a comment"),
    "bytes prepended to the zip": (zips.prepended, "unexpected bytes before the first entry"),
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_the_five_altered_zip_shapes_of_the_probe_are_refused(pack_bytes, shape):
    alter, expected = SHAPES[shape]
    altered = alter(pack_bytes)
    # Python's zipfile alone opens each of them without complaint: the leniency being closed.
    with zipfile.ZipFile(io.BytesIO(altered)) as zf:
        assert zf.testzip() is None
    report = verify_zip(altered)
    assert not report.ok
    assert any(expected in problem for problem in report.problems), report.problems
    assert report.files_checked == 0


def test_an_entry_outside_the_manifest_is_refused(pack_bytes):
    report = verify_zip(zips.extra_entry(pack_bytes))
    assert not report.ok and "extra file not in the manifest: notes.txt" in report.problems


def test_a_re_encoded_manifest_is_refused_although_every_value_is_the_same(pack_bytes):
    report = verify_zip(zips.manifest_reencoded(pack_bytes))
    assert not report.ok and any("not in its canonical form" in p for p in report.problems), report.problems


def test_a_bad_signature_stops_before_any_file_is_hashed(pack_bytes):
    def forged(content):
        manifest = orjson.loads(content)
        manifest["as_of"] = "2020-01-01T00:00:00Z"
        return json_bytes(manifest)

    altered = zips.write([(n, forged(d) if n == zips.MANIFEST else d) for n, d in zips.entries(pack_bytes)])
    hashed = []
    report = verify_zip(altered, progress=lambda done, total, name: hashed.append(name))
    assert report.problems[0] == "bad manifest signature: the manifest was changed after signing"
    assert "no file was hashed" in report.problems[-1] and hashed == [] and report.files_checked == 0


def test_expansion_is_capped_in_total_and_per_entry(settings):
    bomb = zips.zip_bomb(entries_count=1, expanded_per_entry=64 << 20)
    report = verify_zip(bomb)
    assert any("refused as a zip bomb" in p for p in report.problems), report.problems
    settings.KEYTRAIL_PACK_VERIFY_MAX_RATIO = 100_000  # the ratio allowed: the total still caps it
    settings.KEYTRAIL_PACK_VERIFY_MAX_EXPANDED_BYTES = 32 << 20
    report = verify_zip(bomb)
    assert report.problems == [f"the entries would expand to {64 << 20:,} bytes; the limit is {32 << 20:,}"]


def test_a_4_mb_zip_bomb_upload_is_refused_in_under_a_second(client, grc_lead):
    bomb = zips.zip_bomb(entries_count=4, expanded_per_entry=1 << 30)  # 4 GiB from about 4 MB
    assert 3_500_000 < len(bomb) < 4_500_000
    client.force_login(grc_lead)
    upload = io.BytesIO(bomb)
    upload.name = "bomb.zip"
    cpu, wall = time.thread_time(), time.perf_counter()
    response = client.post(reverse("evidence:verify_upload"), {"file": upload})
    cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
    page = response.content.decode()
    assert response.status_code == 200 and "does not verify" in page and "zip bomb" in page
    # CPU time of the request (its thread), so a loaded shared machine cannot fail it; the wall
    # time is reported by docs/reliability.md's run.
    assert cpu < 1.0, f"{cpu:.2f} s CPU ({wall:.2f} s wall)"


def test_upload_checks_are_rate_limited_per_user(client, grc_lead, auditor, settings):
    settings.KEYTRAIL_PACK_VERIFY_UPLOADS_PER_WINDOW = 2

    def post(user):
        client.force_login(user)
        upload = io.BytesIO(b"not a zip")
        upload.name = "x.zip"
        return client.post(reverse("evidence:verify_upload"), {"file": upload})

    assert [post(grc_lead).status_code for _ in range(2)] == [200, 200]
    refused = post(grc_lead)
    assert refused.status_code == 429 and refused["Retry-After"] == str(settings.KEYTRAIL_PACK_VERIFY_WINDOW_SECONDS)
    assert "try again later" in refused.content.decode()
    assert AuditEvent.objects.filter(event_type="pack.verified", actor=grc_lead).count() == 2  # the refused one did no work
    assert post(auditor).status_code == 200  # per user
