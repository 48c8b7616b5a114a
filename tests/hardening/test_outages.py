"""Outages around a collection: a worker killed mid-unit, the database dropping the worker's
connections, the broker unreachable when a user starts a run. Real parts throughout: a Celery
worker process on Redis, PostgreSQL, moto's server behind the fault proxy.

What is *not* done here, on purpose: the shared PostgreSQL server and the shared Redis are
never stopped (other suites run on them). A database restart is reproduced by what a
client sees of it, its connections terminated (``pg_terminate_backend``); Redis being down
by pointing the broker at a port nothing listens on.
"""

from __future__ import annotations

import socket
import time
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse

from apps.inventory.models import CollectionRun, CollectionUnit, Credential
from apps.inventory.services.collection import collection_retry, collection_start, collection_sweep_stale
from tests.support.ledger import record_fault
from tests.support.worker import celery_broker, reset_broker_connections, start_worker, wait_for_run  # noqa: F401

pytestmark = [pytest.mark.faults, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _worker_env(cloud) -> dict[str, str]:
    from apps.devtools.simulators.key_vault import certificate_paths

    return {
        "AWS_ENDPOINT_URL": cloud.aws.url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_READ_TIMEOUT": "60",
        "AWS_CREDENTIAL_REPORT_POLL_INTERVAL": "0.05",
        "KEYTRAIL_EVALUATE_AFTER_COLLECTION": "false",
        "AZURE_CREDENTIAL_CLASS": "apps.devtools.simulators.key_vault.SimulatorCredential",
        "AZURE_VERIFY_CHALLENGE_RESOURCE": "false",
        "AZURE_CONNECTION_VERIFY": certificate_paths()[0],
    }


def _wait_running(run, timeout=30):
    deadline = time.monotonic() + timeout
    while not run.units.filter(status=CollectionUnit.Status.RUNNING).exists():
        assert time.monotonic() < deadline, "no unit started"
        time.sleep(0.1)


def _inventory(source):
    return sorted(Credential.objects.filter(source=source).values_list("external_id", "disappeared_at"))


def test_a_worker_killed_mid_collection_leaves_a_recorded_run_that_a_retry_completes(faulty_cloud, grc_lead, start_worker):
    source = faulty_cloud.sources["aws"]
    first = start_worker(_worker_env(faulty_cloud), concurrency=1)
    good = wait_for_run(collection_start(actor=grc_lead, sources=[source]))
    assert good.status == "succeeded"
    before = _inventory(source)

    faulty_cloud.aws.inject("slow", seconds=30, times=1)  # hold the first request of the next unit
    run = collection_start(actor=grc_lead, sources=[source])
    _wait_running(run)
    first.kill()
    run.refresh_from_db()
    assert run.status == "running" and _inventory(source) == before  # nothing half-written

    # The stale-unit sweeper (a beat task) fails the unit whose worker died; the run says so
    # once its other unit has been picked up again (its unacked message is redelivered).
    assert collection_sweep_stale(older_than=timedelta(0)) == 1
    faulty_cloud.aws.clear()
    start_worker(_worker_env(faulty_cloud), concurrency=1)
    run = wait_for_run(run)
    lost = run.units.get(status="failed")
    assert run.status in ("partial", "failed") and lost.errors[-1]["code"] == "worker_lost"
    retry = wait_for_run(collection_retry(actor=grc_lead, run=run))
    assert retry.status == "succeeded" and retry.units.get().scope == lost.scope
    assert _inventory(source) == before
    record_fault("worker SIGKILLed mid-unit", f"unit failed 'worker_lost' (run {run.status}); retry run succeeded, data intact")


def test_database_connections_dropped_mid_run_are_retried_not_stuck(faulty_cloud, grc_lead, start_worker):
    """What a worker sees when PostgreSQL restarts: its connections are terminated. The shared
    server is not restarted (other suites use it); every connection to this test database but
    the test's own is ended with pg_terminate_backend while the unit waits on the cloud."""
    source = faulty_cloud.sources["aws"]
    start_worker(_worker_env(faulty_cloud), concurrency=1)
    faulty_cloud.aws.inject("slow", seconds=3, times=1)
    run = collection_start(actor=grc_lead, sources=[source])
    _wait_running(run)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        terminated = cursor.fetchone()[0]
    assert terminated >= 1
    run = wait_for_run(run)
    assert run.status == "succeeded", list(run.units.values_list("scope", "status", "errors"))
    retried = [u for u in run.units.all() if any(e.get("code") == "database_unavailable" for e in u.errors)]
    assert retried and all(u.attempts >= 2 for u in retried)
    assert Credential.objects.filter(source=source).exists()
    record_fault("database connections terminated mid-unit", "task retried on a new connection, run succeeded")


# --- the broker is unreachable when a collection is started --------------------------------


@pytest.fixture
def broker_down():
    """The app's broker pointed at a port nothing listens on, with the production publish
    retry settings (not shortened: what a user would wait through is part of the case)."""
    from config.celery import app

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    saved = {k: app.conf[k] for k in ("task_always_eager", "broker_url")}
    app.conf.update(task_always_eager=False, broker_url=f"redis://127.0.0.1:{port}/0")
    reset_broker_connections(app)
    yield
    app.conf.update(saved)
    reset_broker_connections(app)


def test_collect_now_with_the_broker_down_tells_the_user_and_records_the_run(client, faulty_cloud, grc_lead, broker_down):
    source = faulty_cloud.sources["aws"]
    client.force_login(grc_lead)
    started = time.monotonic()
    response = client.post(reverse("inventory:source_collect", args=[source.pk]), follow=True)
    waited = time.monotonic() - started
    assert response.status_code == 200
    body = response.content.decode()
    assert "msg-error" in body and "task queue is unavailable" in body, body[:3000]
    run = CollectionRun.objects.get()
    assert run.status == "failed"
    assert {u.errors[-1]["code"] for u in run.units.all()} == {"broker_unavailable"}
    record_fault(
        "broker unreachable on 'Collect now'",
        f"error shown to the user after {waited:.1f} s; run #{run.pk} recorded failed (broker_unavailable), retryable",
    )


def test_collect_command_with_the_broker_down_fails_clearly(faulty_cloud, grc_lead, broker_down, capsys):
    with pytest.raises(CommandError, match="task queue is unavailable"):
        call_command("collect", "--source", "faulty-aws", "--as", "grc")
    run = CollectionRun.objects.get()
    assert run.status == "failed" and run.units.count() == 3  # IAM, Secrets Manager and SSM in eu-west-1
    record_fault("broker unreachable on 'manage.py collect'", "command error; run recorded failed (broker_unavailable)")


# --- a worker killed while it builds an evidence pack --------------------------------------

from tests.support.evidence import world  # noqa: E402,F401 - fixture: a small organisation with an engagement


def _wait_pack(pack, until, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pack.refresh_from_db()
        if until(pack):
            return pack
        time.sleep(0.2)
    raise AssertionError(f"pack {pack.pack_id} still {pack.state} at {pack.stage!r}: {pack.error}")


def _hold_table(table: str):
    """A second connection that holds an ACCESS EXCLUSIVE lock on ``table`` until closed: the
    worker's first read of it waits, so the kill lands mid-build, deterministically."""
    import psycopg

    db = connection.settings_dict
    hold = psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"])
    hold.execute(f'LOCK TABLE "{table}" IN ACCESS EXCLUSIVE MODE')
    return hold


def test_a_worker_killed_mid_pack_leaves_it_failed_after_the_sweep_and_a_new_build_succeeds(world, grc_lead, start_worker, settings):
    from apps.audit.models import AuditEvent
    from apps.evidence.models import Pack
    from apps.evidence.services import WORKER_LOST, pack_request, pack_sweep_stale, pack_verify

    env = {"KEYTRAIL_TEST_MEDIA_ROOT": str(settings.MEDIA_ROOT)}
    engagement = world["engagement"]
    first = start_worker(env, concurrency=1)
    good = pack_request(actor=grc_lead, engagement=engagement, sample_size=2)
    good = _wait_pack(good, lambda p: p.is_finished)
    assert good.state == Pack.State.SUCCEEDED, good.error
    good_row = Pack.objects.filter(pk=good.pk).values().get()

    hold = _hold_table("inventory_identity")  # gather's first read of the inventory waits here
    try:
        doomed = pack_request(actor=grc_lead, engagement=engagement, as_of=good.as_of, sample_size=2, sample_seed=good.sample_seed)
        _wait_pack(doomed, lambda p: p.state == Pack.State.BUILDING and p.stage == "inventory as of", timeout=60)
        first.kill()
    finally:
        hold.close()
    doomed.refresh_from_db()
    assert doomed.state == Pack.State.BUILDING and not doomed.file  # nothing stored

    # The task is acks_late, so its message comes back to the next worker once the broker's
    # visibility timeout has passed (5 s here, an hour in production); that delivery finds the
    # pack "building" and, unable to tell a dead builder from a live one, leaves it alone. So
    # without the sweep the pack would stay "building" for good.
    time.sleep(6)
    doomed.refresh_from_db()
    assert doomed.state == Pack.State.BUILDING
    # The beat sweep (every 10 minutes; stale after KEYTRAIL_PACK_STALE_MINUTES) closes it.
    assert pack_sweep_stale() == 0  # not yet stale by the production limit
    assert pack_sweep_stale(older_than=timedelta(0)) == 1
    doomed.refresh_from_db()
    assert doomed.state == Pack.State.FAILED and doomed.error == WORKER_LOST and doomed.finished_at
    assert AuditEvent.objects.filter(event_type="pack.failed", target_id=str(doomed.pk)).exists()
    second = start_worker(env, concurrency=2)

    # Nothing else lost: the earlier pack is untouched and still verifies; a new build succeeds
    # with the same data as the earlier one (same as-of time and sample seed).
    assert Pack.objects.filter(pk=good.pk).values().get() == good_row
    assert pack_verify(actor=grc_lead, pack=good).ok
    again = pack_request(actor=grc_lead, engagement=engagement, as_of=good.as_of, sample_size=2, sample_seed=good.sample_seed)
    again = _wait_pack(again, lambda p: p.is_finished)
    assert again.state == Pack.State.SUCCEEDED, again.error
    assert again.data_sha256 == good.data_sha256
    assert pack_verify(actor=grc_lead, pack=again).ok
    deadline = time.monotonic() + 30
    while second.log.read_bytes().count(b"Task evidence.build_pack[") < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    redelivered = second.log.read_bytes().count(b"Task evidence.build_pack[") >= 2  # the new build's and the killed one's
    doomed.refresh_from_db()
    assert doomed.state == Pack.State.FAILED
    record_fault(
        "worker SIGKILLed mid-pack",
        f"pack left building; the sweep failed it 'worker lost'{'; its redelivered message changed nothing' if redelivered else ''}; "
        "new build succeeded, same data hash",
    )
