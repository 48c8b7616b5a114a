"""The evidence pages: creating and sharing an engagement, building with progress, downloads,
verification in the UI, and auditors kept to their own engagements."""

import datetime as dt
import io
import zipfile

import pytest
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.evidence.models import Engagement, Pack
from apps.evidence.services import engagement_create

pytestmark = pytest.mark.django_db


def test_grc_lead_creates_an_engagement_and_shares_it(client, grc_lead, auditor, catalog, world):
    client.force_login(grc_lead)
    response = client.post(
        reverse("evidence:create"),
        {
            "name": "<b>SOC</b> audit",
            "period_start": "2026-01-01",
            "period_end": "2026-06-30",
            "sources": [world["source"].pk],
            "requirements": [catalog[0].pk],
        },
    )
    engagement = Engagement.objects.get(name="<b>SOC</b> audit")
    assert response.status_code == 302 and response["Location"] == reverse("evidence:detail", args=[engagement.pk])
    page = client.get(reverse("evidence:detail", args=[engagement.pk])).content.decode()
    assert "&lt;b&gt;SOC&lt;/b&gt; audit" in page and "<b>SOC</b>" not in page
    bad = client.post(reverse("evidence:create"), {"name": "x", "period_start": "2026-06-30", "period_end": "2026-01-01"})
    assert bad.status_code == 200 and "ends before it starts" in bad.content.decode()
    client.post(
        reverse("evidence:share", args=[engagement.pk]), {"user": auditor.pk, "permissions": ["view_engagement"], "action": "share"}
    )
    assert auditor.has_perm("evidence.view_engagement", engagement)


def test_build_shows_progress_then_downloads_and_verifies(client, grc_lead, auditor, world, django_capture_on_commit_callbacks):
    engagement = world["engagement"]
    client.force_login(grc_lead)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("evidence:build", args=[engagement.pk]), {"sample_size": 2, "as_of": "", "sample_seed": ""})
    pack = Pack.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("evidence:pack", args=[engagement.pk, pack.pk])
    queued = client.get(reverse("evidence:pack_progress", args=[engagement.pk, pack.pk])).content.decode()
    assert 'hx-trigger="every 2s"' in queued and "Queued" in queued
    for callback in callbacks:  # the task runs now (eager), as a worker would after commit
        callback()
    done = client.get(reverse("evidence:pack_progress", args=[engagement.pk, pack.pk])).content.decode()
    assert "hx-trigger" not in done and "Succeeded" in done and "pack.pdf" in done

    client.force_login(auditor)
    download = client.get(reverse("evidence:pack_download", args=[engagement.pk, pack.pk]))
    content = b"".join(download.streaming_content)
    assert download.status_code == 200 and download["Content-Disposition"].startswith("attachment")
    assert zipfile.ZipFile(io.BytesIO(content)).testzip() is None
    assert AuditEvent.objects.filter(event_type="pack.downloaded", actor=auditor).count() == 1

    intact = client.post(reverse("evidence:verify_upload"), {"file": io.BytesIO(content)}, format="multipart")
    assert "The pack is intact" in intact.content.decode()
    tampered = _tamper(content, "pack.xlsx")
    upload = io.BytesIO(tampered)
    upload.name = "pack.zip"
    result = client.post(reverse("evidence:verify_upload"), {"file": upload}).content.decode()
    assert "does not verify" in result and "changed file: pack.xlsx" in result
    assert list(AuditEvent.objects.filter(event_type="pack.verified").order_by("seq").values_list("changes__ok", flat=True)) == [
        True,
        False,
    ]
    stored = client.post(reverse("evidence:pack_verify", args=[engagement.pk, pack.pk])).content.decode()
    assert "The pack is intact" in stored


def _tamper(content: bytes, name: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as src, zipfile.ZipFile(out, "w") as dst:
        for n in src.namelist():
            data = src.read(n)
            dst.writestr(n, data[:-1] + bytes([data[-1] ^ 1]) if n == name else data)
    return out.getvalue()


def test_an_auditor_is_refused_another_engagements_pack(client, grc_lead, auditor, world):
    mine = world["engagement"]
    other = engagement_create(actor=grc_lead, name="Other audit", period_start=dt.date(2026, 1, 1), period_end=dt.date(2026, 12, 31))
    from django.utils import timezone

    theirs = Pack.objects.create(engagement=other, pack_id="KT-OTHER", as_of=timezone.now(), sample_seed=1, built_by=grc_lead)
    client.force_login(auditor)
    listing = client.get(reverse("evidence:list")).content.decode()
    assert "FY2026 ISO 27017 audit" in listing and "Other audit" not in listing
    denied = AuditEvent.objects.filter(event_type="access.denied").count()
    for name in ("pack", "pack_progress", "pack_download"):
        assert client.get(reverse(f"evidence:{name}", args=[other.pk, theirs.pk])).status_code == 404
        # guessing the other pack's number under one's own engagement does not reach it either
        assert client.get(reverse(f"evidence:{name}", args=[mine.pk, theirs.pk])).status_code == 404
    assert client.get(reverse("evidence:detail", args=[other.pk])).status_code == 404
    assert AuditEvent.objects.filter(event_type="access.denied").count() > denied
    assert not AuditEvent.objects.filter(event_type="pack.downloaded").exists()


def test_list_queries_do_not_grow_with_engagements(client, grc_lead, catalog, django_assert_max_num_queries):
    for i in range(12):
        engagement_create(actor=grc_lead, name=f"E{i}", period_start=dt.date(2026, 1, 1), period_end=dt.date(2026, 2, 1))
    client.force_login(grc_lead)
    with django_assert_max_num_queries(12):
        assert client.get(reverse("evidence:list")).status_code == 200


def test_the_nav_link_shows_to_those_with_an_engagement(client, auditor, reviewer, world):
    client.force_login(auditor)
    assert 'href="/evidence/"' in client.get(reverse("home")).content.decode()
    client.force_login(reviewer)
    assert 'href="/evidence/"' not in client.get(reverse("home")).content.decode()
