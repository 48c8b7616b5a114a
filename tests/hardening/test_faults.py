"""Fault injection: throttling, server errors, resets, slow, truncated and malformed answers
from moto's server and the Key Vault simulator, through apps/devtools/simulators/faults.py.

Each case collects once cleanly (the last good snapshot), then again with the fault, and
checks three things: the unit and run end in a clear recorded state with the error's code;
a retryable error is retried (by the SDK for a transient fault, and by the unit's Celery
task: ``collection_unit_execute(final_attempt=False)`` raises ``RetryLater`` and puts the
unit back to pending, which is what the task turns into ``self.retry``); and nothing
collected before is lost (same credentials, none marked disappeared, the last good snapshot
still the scope's latest). Worker, database and broker faults are in test_outages.py.
"""

from __future__ import annotations

import pytest

from apps.inventory.models import Credential, Snapshot
from apps.inventory.services.collection import RetryLater, collection_start, collection_unit_execute
from tests.support.ledger import record_fault

pytestmark = [pytest.mark.django_db, pytest.mark.faults]

# connector -> (proxy, source, scope prefix, operation the fault targets)
TARGETS = {
    "aws_iam": ("aws", "aws", "aws_iam", "GetAccountAuthorizationDetails"),
    "aws_secrets_manager": ("aws", "aws", "aws_secrets_manager", "ListSecrets"),
    "azure_key_vault": ("kv", "kv", "azure_key_vault", "ListSecrets"),
}
FAULTS = {
    "throttle": {"retry_after": 0.1},
    "error": {},
    "reset": {},
    "slow": {"seconds": 1.6},  # beyond the 1 s read timeout
    "truncate": {},
    "malformed": {},
}
# What a fault that never clears ends as: the unit's error code, and whether it is retried.
PERSISTENT = {
    ("aws_iam", "throttle"): ("throttled", True),
    ("aws_iam", "error"): ("service_unavailable", True),
    ("aws_iam", "reset"): ("unreachable", True),
    ("aws_iam", "slow"): ("unreachable", True),
    ("aws_iam", "truncate"): ("unreachable", True),
    ("aws_iam", "malformed"): ("malformed_response", False),
    ("aws_secrets_manager", "throttle"): ("throttled", True),
    ("aws_secrets_manager", "error"): ("service_unavailable", True),
    ("aws_secrets_manager", "reset"): ("unreachable", True),
    ("aws_secrets_manager", "slow"): ("unreachable", True),
    ("aws_secrets_manager", "truncate"): ("unreachable", True),
    ("aws_secrets_manager", "malformed"): ("malformed_response", False),
    ("azure_key_vault", "throttle"): ("throttled", True),
    ("azure_key_vault", "error"): ("server_error", True),
    ("azure_key_vault", "reset"): ("unreachable", True),
    ("azure_key_vault", "slow"): ("unreachable", True),
    # The SDK reads a cut-off body as an incomplete download: retryable "malformed_response".
    ("azure_key_vault", "truncate"): ("malformed_response", True),
    ("azure_key_vault", "malformed"): ("malformed_response", False),
}
# One bad answer, then the SDK's own retry succeeds. Secrets Manager shares IAM's botocore
# client and retry configuration, so IAM stands for both here.
TRANSIENT = ["throttle", "error", "reset", "truncate"]


def _collect(actor, source, capture):
    with capture(execute=True):
        run = collection_start(actor=actor, sources=[source])
    run.refresh_from_db()
    return run


def _scope_state(source, scope_prefix):
    creds = Credential.objects.filter(source=source, scope__regex=rf"^{scope_prefix}(:|$)")
    return sorted(creds.values_list("external_id", "disappeared_at", "tags"), key=lambda r: r[0])


def _latest_snapshot(source, scope_prefix):
    return (
        Snapshot.objects.filter(source=source, scope__regex=rf"^{scope_prefix}(:|$)")
        .order_by("-taken_at")
        .values_list("pk", flat=True)
        .first()
    )


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("connector", TARGETS)
def test_a_fault_that_does_not_clear_is_recorded_retried_and_loses_nothing(
    faulty_cloud, grc_lead, connector, fault, django_capture_on_commit_callbacks
):
    proxy_name, source_name, scope_prefix, operation = TARGETS[connector]
    proxy, source = getattr(faulty_cloud, proxy_name), faulty_cloud.sources[source_name]
    good = _collect(grc_lead, source, django_capture_on_commit_callbacks)
    assert good.status == "succeeded", [u.errors for u in good.units.all()]
    before, snapshot = _scope_state(source, scope_prefix), _latest_snapshot(source, scope_prefix)
    assert before and snapshot

    proxy.inject(fault, match=operation, times=None, **FAULTS[fault])
    with django_capture_on_commit_callbacks(execute=False):
        run = collection_start(actor=grc_lead, sources=[source])
    unit = run.units.get(scope__regex=rf"^{scope_prefix}(:|$)")
    code, retryable = PERSISTENT[(connector, fault)]

    # The unit's task would retry a retryable error (not the last attempt): unit back to pending.
    if retryable:
        with pytest.raises(RetryLater):
            collection_unit_execute(unit_id=unit.pk, final_attempt=False)
        unit.refresh_from_db()
        assert unit.status == "pending" and unit.errors[-1] == {**unit.errors[-1], "code": code, "retrying": True}
    else:
        collection_unit_execute(unit_id=unit.pk, final_attempt=False)
        unit.refresh_from_db()
        assert unit.status == "failed" and unit.errors[-1]["code"] == code
    # The last attempt fails the unit for good, with the reason, and closes the run.
    for other in run.units.all():
        collection_unit_execute(unit_id=other.pk, final_attempt=True)
    unit.refresh_from_db()
    run.refresh_from_db()
    assert unit.status == "failed" and unit.errors[-1]["code"] == code and unit.finished_at, unit.errors
    assert run.is_finished and run.status in ("failed", "partial")
    assert proxy.fired, "the fault was never served"

    # Nothing collected before is lost.
    assert _scope_state(source, scope_prefix) == before
    assert _latest_snapshot(source, scope_prefix) == snapshot
    assert not Snapshot.objects.filter(unit=unit).exists()
    record_fault(
        f"{connector} {fault} (persistent)", f"unit failed '{code}'" + (", retried by task" if retryable else "") + ", data intact"
    )


@pytest.mark.parametrize("fault", TRANSIENT)
@pytest.mark.parametrize("connector", ["aws_iam", "azure_key_vault"])
def test_a_fault_that_clears_is_retried_by_the_sdk(faulty_cloud, grc_lead, connector, fault, django_capture_on_commit_callbacks):
    proxy_name, source_name, scope_prefix, operation = TARGETS[connector]
    proxy, source = getattr(faulty_cloud, proxy_name), faulty_cloud.sources[source_name]
    injected = proxy.inject(fault, match=operation, times=1, **FAULTS[fault])
    run = _collect(grc_lead, source, django_capture_on_commit_callbacks)
    unit = run.units.get(scope__regex=rf"^{scope_prefix}(:|$)")
    assert injected.fired == 1
    assert run.status == "succeeded" and unit.status == "succeeded" and unit.attempts == 1, unit.errors
    assert proxy.seen[operation] >= 2  # the failed attempt and its retry
    assert Credential.objects.filter(source=source, scope__regex=rf"^{scope_prefix}(:|$)").exists()
    record_fault(f"{connector} {fault} (once)", "retried by the SDK, unit succeeded")
