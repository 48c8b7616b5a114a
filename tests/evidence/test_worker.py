"""A pack built by a real Celery worker (another process) on Redis, against the test database."""

import time

import pytest
from django.conf import settings

from apps.evidence.manifest import verify_zip
from apps.evidence.models import Pack
from apps.evidence.services import pack_request
from tests.support.worker import celery_broker, start_worker  # noqa: F401

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_worker_builds_the_pack_with_visible_progress(world, grc_lead, start_worker):
    start_worker({"KEYTRAIL_TEST_MEDIA_ROOT": str(settings.MEDIA_ROOT)}, concurrency=1)
    pack = pack_request(actor=grc_lead, engagement=world["engagement"], sample_size=2)
    seen = set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        pack.refresh_from_db()
        seen.add((pack.state, pack.progress))
        if pack.is_finished:
            break
        time.sleep(0.2)
    assert pack.state == Pack.State.SUCCEEDED, pack.error
    assert any(state == Pack.State.BUILDING and 0 < progress < 100 for state, progress in seen), seen  # progress was visible
    with pack.file.open("rb") as fh:  # the worker stored it where this process reads it
        report = verify_zip(fh)
    assert report.ok, report.problems
