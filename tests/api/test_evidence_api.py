"""The evidence endpoints: engagements, a pack built by the worker (202 + a progress URL),
its detail with hashes, the download (the zip's bytes, audited as in the UI) and the
verification of the stored pack; another engagement's pack is a 404."""

import datetime as dt
import io
import zipfile

import pytest

from apps.audit.models import AuditEvent
from apps.evidence.models import Pack
from tests.factories import EngagementFactory
from tests.support.evidence import world  # noqa: F401

pytestmark = pytest.mark.django_db


def test_engagements_by_persona(api_as, world, grc_lead, auditor, catalog):  # noqa: F811
    grc, aud = api_as(grc_lead), api_as(auditor, scope="read")
    assert [e["name"] for e in aud.get("/api/v1/engagements/").json()["results"]] == ["FY2026 ISO 27017 audit"]
    assert aud.post("/api/v1/engagements/", {}, format="json").status_code == 403
    backwards = grc.post("/api/v1/engagements/", {"name": "x", "period_start": "2026-12-31", "period_end": "2026-01-01"}, format="json")
    assert backwards.status_code == 400 and "ends before it starts" in backwards.json()["detail"]
    created = grc.post(
        "/api/v1/engagements/",
        {
            "name": '=HYPERLINK("x") <b>',
            "period_start": "2026-01-01",
            "period_end": "2026-12-31",
            "sources": [world["other"].pk],
            "requirements": [catalog[0].ref],
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["name"] == '=HYPERLINK("x") <b>' and body["sources"] == ["other"] and body["requirements"] == [catalog[0].ref]
    assert AuditEvent.objects.filter(event_type="engagement.created", target_id=str(body["id"])).exists()
    # Not shared with the auditor: hidden, recorded.
    denied = AuditEvent.objects.filter(event_type="access.denied").count()
    assert aud.get(f"/api/v1/engagements/{body['id']}/").status_code == 404
    assert aud.get(f"/api/v1/engagements/{body['id']}/packs/").status_code == 404
    assert AuditEvent.objects.filter(event_type="access.denied").count() == denied + 2


def test_build_poll_download_and_verify(api_as, world, grc_lead, auditor, django_capture_on_commit_callbacks):  # noqa: F811
    engagement = world["engagement"]
    grc, aud = api_as(grc_lead), api_as(auditor, scope="read")
    assert aud.post(f"/api/v1/engagements/{engagement.pk}/packs/", {}, format="json").status_code == 403  # read-only token
    assert api_as(auditor).post(f"/api/v1/engagements/{engagement.pk}/packs/", {}, format="json").status_code == 403  # may not build
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    assert grc.post(f"/api/v1/engagements/{engagement.pk}/packs/", {"as_of": future}, format="json").status_code == 400
    with django_capture_on_commit_callbacks(execute=True):  # the build task runs (eagerly) once the request commits
        queued = grc.post(f"/api/v1/engagements/{engagement.pk}/packs/", {"sample_size": 2}, format="json")
    assert queued.status_code == 202, queued.json()
    body = queued.json()
    assert body["state"] == "queued" and queued["Location"] == body["progress_url"] == f"/api/v1/packs/{body['id']}/"
    pack = aud.get(body["progress_url"]).json()
    assert pack["state"] == "succeeded" and pack["progress"] == 100 and pack["pack_id"] == body["pack_id"]
    assert set(pack["file_hashes"]) >= {"pack.json", "pack.pdf", "pack.xlsx"} and len(pack["sha256"]) == 64
    listed = aud.get(f"/api/v1/engagements/{engagement.pk}/packs/").json()
    assert [p["id"] for p in listed["results"]] == [body["id"]]

    download = aud.get(pack["download_url"])
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    data = b"".join(download.streaming_content)
    import hashlib

    assert hashlib.sha256(data).hexdigest() == pack["sha256"]
    assert "manifest.json" in zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert AuditEvent.objects.filter(event_type="pack.downloaded", actor=auditor, target_id=str(body["id"])).count() == 1

    report = aud.post(f"/api/v1/packs/{body['id']}/verify/", {}, format="json")  # allowed with a read-only token: it changes nothing
    assert report.status_code == 200 and report.json()["ok"] is True and report.json()["files_checked"] == len(pack["file_hashes"])
    assert AuditEvent.objects.filter(event_type="pack.verified", actor=auditor).count() == 1

    stored = Pack.objects.get(pk=body["id"])
    with open(stored.file.path, "r+b") as fh:  # someone alters the stored zip
        fh.seek(200)
        byte = fh.read(1)
        fh.seek(200)
        fh.write(bytes([byte[0] ^ 0xFF]))
    altered = aud.get(pack["download_url"])
    assert altered.status_code == 400 and "altered" in altered.json()["detail"]
    bad = aud.post(f"/api/v1/packs/{body['id']}/verify/", {}, format="json").json()
    assert bad["ok"] is False and bad["problems"]

    # Another engagement's pack is hidden from the auditor.
    other = EngagementFactory(name="Other", period_start=dt.date(2026, 1, 1), period_end=dt.date(2026, 12, 31), created_by=grc_lead)
    hidden = Pack.objects.create(engagement=other, pack_id="KT-HIDDEN", as_of=dt.datetime.now(dt.UTC), sample_seed=1, built_by=grc_lead)
    for url in (f"/api/v1/packs/{hidden.pk}/", f"/api/v1/packs/{hidden.pk}/download/"):
        assert aud.get(url).status_code == 404
    assert grc.get(f"/api/v1/packs/{hidden.pk}/download/").status_code == 400  # queued: nothing to download yet


def test_evidence_lists_take_a_fixed_number_of_queries(api_as, world, grc_lead, django_assert_max_num_queries):  # noqa: F811
    engagement = world["engagement"]
    for n in range(30):
        EngagementFactory(name=f"E{n}", period_start=dt.date(2026, 1, 1), period_end=dt.date(2026, 12, 31), created_by=grc_lead)
        Pack.objects.create(engagement=engagement, pack_id=f"KT-MANY-{n}", as_of=dt.datetime.now(dt.UTC), sample_seed=n, built_by=grc_lead)
    grc = api_as(grc_lead)
    for url in ("/api/v1/engagements/", f"/api/v1/engagements/{engagement.pk}/packs/"):
        with django_assert_max_num_queries(12):
            response = grc.get(url)
        assert response.status_code == 200 and response.json()["count"] >= 30
