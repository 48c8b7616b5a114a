"""Collections on a real Celery worker and Redis: fan-out, retries with backoff, a killed worker."""

import time
from datetime import timedelta

import pytest

from apps.inventory.models import CollectionUnit, Credential
from apps.inventory.services.collection import collection_retry, collection_start, collection_sweep_stale, collection_unit_execute
from tests.support.cloud import cloud, moto_server_url, register_sources  # noqa: F401
from tests.support.worker import celery_broker, start_worker, wait_for_run  # noqa: F401

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_units_fan_out_to_a_real_worker(cloud, grc_lead, start_worker):
    start_worker(cloud.env())
    sources = register_sources(grc_lead, cloud)
    run = wait_for_run(collection_start(actor=grc_lead, sources=sources))
    assert run.status == "succeeded", [(u.scope, u.errors) for u in run.units.all()]
    assert run.units.count() == 14 and all(u.attempts == 1 for u in run.units.all())  # a vault is 3 units


def test_two_workers_share_one_run_and_run_its_units_at_once(cloud, grc_lead, start_worker):
    # Late acknowledgement and a prefetch of one: a busy worker holds no queued unit, so the other
    # takes them. kv-a's unit is held long enough for the rest to run beside it.
    workers = [start_worker(cloud.env(), concurrency=1) for _ in range(2)]
    cloud.vaults[0].slow(2, times=1, only="list")
    run = wait_for_run(collection_start(actor=grc_lead, sources=register_sources(grc_lead, cloud)))
    assert run.status == "succeeded", [(u.scope, u.errors) for u in run.units.all()]
    taken = [set(worker.tasks_received("inventory.collect_unit")) for worker in workers]
    assert all(taken) and not taken[0] & taken[1] and len(taken[0] | taken[1]) == 14, taken
    # Each worker runs one unit at a time, so units whose times overlap ran on different workers.
    spans = sorted(run.units.values_list("started_at", "finished_at"))
    assert any(later[0] < earlier[1] for earlier, later in zip(spans, spans[1:], strict=False)), spans


def test_throttling_is_retried_by_the_task_then_succeeds(cloud, grc_lead, start_worker):
    # No SDK-level retries in the worker, so the 429 reaches the task, which retries with backoff.
    start_worker({**cloud.env(), "AZURE_RETRY_TOTAL": "0"})
    vault = cloud.vaults[0]
    sources = [s for s in register_sources(grc_lead, cloud) if s.name == vault.name]
    vault.throttle(times=1, retry_after=0, only="list")
    run = wait_for_run(collection_start(actor=grc_lead, sources=sources))
    unit = run.units.get(connector="azure_key_vault")
    assert run.status == "succeeded" and unit.attempts >= 2
    assert any(e.get("retrying") and e["code"] == "throttled" for e in unit.errors)


def test_a_killed_worker_leaves_a_run_that_says_so_and_can_be_retried(cloud, grc_lead, start_worker):
    vault = cloud.vaults[0]
    sources = [s for s in register_sources(grc_lead, cloud) if s.name == vault.name]
    vault.slow(20, times=1, only="list")  # hold the secrets unit long enough to kill the worker mid-unit
    first = start_worker(cloud.env(), concurrency=1)
    run = collection_start(actor=grc_lead, sources=sources)
    deadline = time.monotonic() + 30
    while CollectionUnit.objects.get(run=run, connector="azure_key_vault").status != "running":
        assert time.monotonic() < deadline, "the unit never started"
        time.sleep(0.2)
    first.kill()
    run.refresh_from_db()
    assert run.status == "running" and not Credential.objects.filter(source=sources[0]).exists()  # nothing half-written

    # The sweeper (a beat task) fails units whose worker is gone; the run then says so.
    assert collection_sweep_stale(older_than=timedelta(0)) == 1
    run.refresh_from_db()
    unit = run.units.get(connector="azure_key_vault")
    assert unit.status == "failed" and unit.errors[-1]["code"] == "worker_lost"

    # The vault's keys and certificates units were still queued: a new worker runs them, and the
    # run then says one unit was lost.
    vault.clear_faults()
    start_worker(cloud.env(), concurrency=1)
    run = wait_for_run(run)
    assert run.status == "partial" and list(run.units.filter(status="failed")) == [unit]
    retry = wait_for_run(collection_retry(actor=grc_lead, run=run))
    assert retry.status == "succeeded" and Credential.objects.filter(source=sources[0]).count() == 30
    # The killed task may still come back from the broker (acks_late): it finds its unit finished.
    assert collection_unit_execute(unit_id=unit.pk).message == "already finished"


def test_one_source_takes_at_most_its_slots_across_the_worker(cloud, grc_lead, start_worker):
    # account-a has five units (IAM, and Secrets Manager and Parameter Store in two regions); with
    # one slot per source they run one
    # after another although the worker could run three at once, and the units that had to wait
    # were put back on the queue without spending an attempt.
    worker = start_worker({**cloud.env(), "KEYTRAIL_COLLECTION_PER_SOURCE_CONCURRENCY": "1"}, concurrency=3)
    source = next(s for s in register_sources(grc_lead, cloud) if s.name == "account-a")
    run = wait_for_run(collection_start(actor=grc_lead, sources=[source]))
    assert run.status == "succeeded", [(u.scope, u.errors) for u in run.units.all()]
    units = list(run.units.all())
    assert len(units) == 5 and all(u.attempts == 1 for u in units)
    spans = sorted((u.started_at, u.finished_at) for u in units)
    assert all(later[0] >= earlier[1] for earlier, later in zip(spans, spans[1:], strict=False)), spans
    assert len(worker.tasks_received("inventory.collect_unit")) >= 5


def test_an_organisations_accounts_fan_out_across_workers_in_the_same_run(cloud, grc_lead, start_worker):
    from apps.devtools.simulators.aws_organization import add_account, create_organization
    from apps.devtools.simulators.organisation import seed_aws_account
    from apps.inventory.services.sources import source_create

    organization = create_organization(cloud.aws_url)
    for i in range(4):
        account = add_account(cloud.aws_url, organization, f"team-{i}")
        seed_aws_account(account, users=2, secrets_per_region=1, regions=["eu-west-1"], seed=30 + i, hostile=False)
    source = source_create(
        actor=grc_lead,
        name="org",
        kind="aws_organization",
        role_arn="arn:aws:iam::123456789012:role/keytrail-org",
        member_role_name="keytrail-reader",
        regions=["eu-west-1"],
        exclude_ids=["123456789012"],
    )
    workers = [start_worker(cloud.env(), concurrency=1) for _ in range(2)]
    run = wait_for_run(collection_start(actor=grc_lead, sources=[source]))
    assert run.status == "succeeded", [(u.scope, u.errors) for u in run.units.all()]
    # The discovery's 12 member units (IAM, Secrets Manager and Parameter Store each) were enqueued by the worker that ran it, after it committed,
    # and both workers took some: the estate is not read by one task.
    assert run.units.count() == 1 + 4 * 3 and run.units.filter(spawned_by__isnull=False).count() == 12
    taken = [set(worker.tasks_received("inventory.collect_unit")) for worker in workers]
    assert all(taken) and not taken[0] & taken[1] and len(taken[0] | taken[1]) == 13, taken
    assert Credential.objects.filter(source__parent=source, credential_type="sm_secret").count() == 4
