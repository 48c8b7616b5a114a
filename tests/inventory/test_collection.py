"""Runs, units and their outcomes (eager Celery); the worker-level behaviour is in test_worker.py."""

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.connectors import registry
from apps.core.errors import PermissionRefused, ValidationFailed
from apps.inventory.models import CollectionRun, CollectionUnit, Credential, Snapshot
from apps.inventory.services.collection import collection_retry, collection_start, collection_start_due, collection_sweep_stale
from tests.inventory import scripted

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def scripted_connectors(monkeypatch):
    for kind, path in scripted.SCRIPTED.items():
        monkeypatch.setitem(registry.CONNECTORS, kind, path)
    registry.connector_class.cache_clear()
    scripted.SCRIPT.clear()
    yield
    registry.connector_class.cache_clear()


def _start(actor, sources, capture):
    with capture(execute=True):
        run = collection_start(actor=actor, sources=sources)
    run.refresh_from_db()
    return run


def test_a_run_fans_out_one_unit_per_target_and_succeeds(aws_source, grc_lead, django_capture_on_commit_callbacks):
    run = _start(grc_lead, [aws_source], django_capture_on_commit_callbacks)
    units = list(run.units.order_by("scope"))
    assert [u.scope for u in units] == [
        "aws_iam",
        "aws_secrets_manager:eu-west-1",
        "aws_secrets_manager:us-east-1",
        "aws_ssm:eu-west-1",
        "aws_ssm:us-east-1",
    ]
    assert run.status == "succeeded" and run.finished_at and all(u.status == "succeeded" for u in units)
    assert units[0].api_calls == {"ListThings": 2} and units[0].counts["created"] == 1
    assert Snapshot.objects.filter(unit__run=run).count() == 5
    types = list(
        AuditEvent.objects.filter(target_type="inventory.collectionrun", target_id=str(run.pk))
        .order_by("seq")
        .values_list("event_type", flat=True)
    )
    assert types[0] == "collection.started" and types[-1] == "collection.finished" and types.count("collection.unit_succeeded") == 5


def test_one_failing_unit_does_not_stop_the_others_and_loses_nothing(aws_source, grc_lead, django_capture_on_commit_callbacks):
    _start(grc_lead, [aws_source], django_capture_on_commit_callbacks)
    before = set(Credential.objects.values_list("external_id", flat=True))
    scripted.SCRIPT["aws_secrets_manager:eu-west-1"] = [scripted.refused()]
    scripted.SCRIPT["aws_iam"] = [TypeError("bug in a connector")]
    run = _start(grc_lead, [aws_source], django_capture_on_commit_callbacks)
    assert run.status == "partial"
    failed = {u.scope: u for u in run.units.filter(status="failed")}
    assert failed["aws_secrets_manager:eu-west-1"].errors[-1]["code"] == "assume_role_failed"
    assert failed["aws_iam"].errors[-1]["code"] == "internal_error" and "TypeError" in failed["aws_iam"].errors[-1]["message"]
    # The failed scopes keep their previous state: nothing disappeared.
    assert set(Credential.objects.filter(disappeared_at__isnull=True).values_list("external_id", flat=True)) == before


def test_a_result_that_cannot_be_applied_rolls_back_whole(aws_source, grc_lead, django_capture_on_commit_callbacks):
    scripted.SCRIPT["aws_iam"] = ["unappliable"]  # negative interval violates the column's constraint
    run = _start(grc_lead, [aws_source], django_capture_on_commit_callbacks)
    unit = run.units.get(scope="aws_iam")
    assert unit.status == "failed" and unit.errors[-1]["code"] == "apply_failed"
    assert not Snapshot.objects.filter(unit=unit).exists() and not Credential.objects.filter(scope="aws_iam").exists()
    assert unit.api_calls == {"ListThings": 2}  # what was called is still recorded


def test_all_units_failing_fails_the_run_and_retry_reruns_only_those(aws_source, grc_lead, django_capture_on_commit_callbacks):
    for scope in ("aws_iam", "aws_secrets_manager:eu-west-1", "aws_secrets_manager:us-east-1", "aws_ssm:eu-west-1", "aws_ssm:us-east-1"):
        scripted.SCRIPT[scope] = [scripted.throttled()]
    run = _start(grc_lead, [aws_source], django_capture_on_commit_callbacks)
    assert run.status == "failed"
    assert run.units.get(scope="aws_iam").errors[-1]["code"] == "throttled"  # eager: first retryable failure is final
    scripted.SCRIPT["aws_iam"] = [scripted.refused()]
    with django_capture_on_commit_callbacks(execute=True):
        retry = collection_retry(actor=grc_lead, run=run)
    retry.refresh_from_db()
    assert retry.retry_of == run and retry.units.count() == 5 and retry.status == "partial"
    with pytest.raises(ValidationFailed, match="nothing to retry"):
        collection_retry(
            actor=grc_lead,
            run=CollectionRun.objects.filter(status="succeeded").first()
            or _start(grc_lead, [aws_source], django_capture_on_commit_callbacks),
        )


def test_previous_state_is_handed_back(aws_source, grc_lead, django_capture_on_commit_callbacks):
    _start(grc_lead, [aws_source], django_capture_on_commit_callbacks)
    run = _start(grc_lead, [aws_source], django_capture_on_commit_callbacks)
    assert run.units.get(scope="aws_iam").state == {"previous_seen": {"previous_seen": None}}


def test_who_may_start_a_collection(aws_source, approver, django_capture_on_commit_callbacks):
    with pytest.raises(PermissionRefused):
        collection_start(actor=approver, sources=[aws_source])
    aws_source.enabled = False
    aws_source.save()
    with pytest.raises(ValidationFailed, match="no enabled source"):
        collection_start(actor=None, sources=[aws_source])


def test_redelivered_unit_is_idempotent(aws_source, grc_lead, django_capture_on_commit_callbacks):
    from apps.inventory.services.collection import collection_unit_execute

    run = _start(grc_lead, [aws_source], django_capture_on_commit_callbacks)
    unit = run.units.get(scope="aws_iam")
    outcome = collection_unit_execute(unit_id=unit.pk)
    assert outcome.message == "already finished" and Snapshot.objects.filter(unit=unit).count() == 1


def test_a_unit_lost_with_its_worker_is_swept(aws_source, grc_lead, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        run = collection_start(actor=grc_lead, sources=[aws_source])
    CollectionUnit.objects.filter(run=run).update(status="running", started_at=timezone.now() - timezone.timedelta(hours=2))
    assert collection_sweep_stale() == 5
    run.refresh_from_db()
    assert run.status == "failed" and run.units.first().errors[-1]["code"] == "worker_lost"


def test_broker_unavailable_is_recorded(aws_source, grc_lead, django_capture_on_commit_callbacks):
    """A real publish to a Redis port nobody listens on (127.0.0.1:1)."""
    from config.celery import app
    from tests.support.worker import reset_broker_connections

    saved = {k: app.conf[k] for k in ("task_always_eager", "broker_url", "task_publish_retry", "broker_connection_timeout")}
    app.conf.update(task_always_eager=False, broker_url="redis://127.0.0.1:1/0", task_publish_retry=False, broker_connection_timeout=1)
    reset_broker_connections(app)
    try:
        run = _start(grc_lead, [aws_source], django_capture_on_commit_callbacks)
    finally:
        app.conf.update(saved)
        reset_broker_connections(app)
    assert run.status == "failed"
    assert {u.errors[-1]["code"] for u in run.units.all()} == {"broker_unavailable"}


def test_due_sources_are_collected_on_schedule(aws_source, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = collection_start_due()
    assert first is not None and first.trigger == "schedule"
    assert collection_start_due() is None  # collected just now: not due
    later = timezone.now() + timezone.timedelta(minutes=aws_source.schedule_minutes + 1)
    with django_capture_on_commit_callbacks(execute=False):
        assert collection_start_due(now=later) is not None
