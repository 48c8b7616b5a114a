import pytest

from apps.evaluation.rules.secrets_manager import (
    NotAccessed,
    NotRotatedWithinLimit,
    RotationDisabled,
    RotationOverdue,
    ScheduledDeletion,
)
from tests.evaluation.rules.facts import ago, ahead, cred, ctx, key


def secret(**fields):
    return cred("sm_secret", **fields)


# ---------------------------------------------------------------- sm-rotation-disabled


@pytest.mark.parametrize("enabled, status", [(True, "pass"), (False, "fail"), (None, "not_assessed")])
def test_rotation_disabled_states(enabled, status):
    assert RotationDisabled().evaluate(secret(rotation_enabled=enabled), ctx()).status == status


def test_rotation_disabled_reason():
    verdict = RotationDisabled().evaluate(secret(name="prod/db/main", rotation_enabled=False), ctx())
    assert verdict.reason == "Secrets Manager secret prod/db/main (class database): automatic rotation disabled"


def test_rotation_rules_skip_secrets_scheduled_for_deletion():
    gone = secret(deleted_at=ago(2), enabled=False)
    for rule in (RotationDisabled(), NotRotatedWithinLimit(), RotationOverdue(), NotAccessed()):
        assert not rule.applies(gone)
        assert not rule.applies(key())
    assert RotationDisabled().applies(secret(enabled=None))  # bench inventories leave enabled unset


# ---------------------------------------------------------------- sm-not-rotated-within-limit


@pytest.mark.parametrize("days, status", [(59, "pass"), (60, "pass"), (61, "fail")])
def test_database_secret_limit_is_60(days, status):
    verdict = NotRotatedWithinLimit().evaluate(secret(name="prod/db/main", created_at=ago(500), last_rotated_at=ago(days)), ctx())
    assert verdict.status == status and verdict.data["credential_class"] == "database"


def test_class_decides_the_limit_database_fails_where_certificate_passes():
    db = secret(name="prod/postgres/main", created_at=ago(61))
    cert = secret(name="prod/tls-cert", created_at=ago(61))
    assert NotRotatedWithinLimit().evaluate(db, ctx()).status == "fail"
    assert NotRotatedWithinLimit().evaluate(cert, ctx()).status == "pass"


def test_classification_by_tag_beats_the_name():
    tagged = secret(name="prod/db/main", tags={"class": "certificate"}, created_at=ago(100))
    assert tagged.credential_class == "certificate"
    verdict = NotRotatedWithinLimit().evaluate(tagged, ctx())
    assert verdict.status == "pass" and "limit 365 for class certificate" in verdict.reason


@pytest.mark.parametrize(
    "name, cls, limit", [("billing-api-token", "external-api", 180), ("svc-reporting", "service-account", 90), ("misc", "default", 90)]
)
def test_other_classes_by_name(name, cls, limit):
    verdict = NotRotatedWithinLimit().evaluate(secret(name=name, created_at=ago(limit + 1)), ctx())
    assert verdict.status == "fail" and verdict.data["credential_class"] == cls and verdict.data["limit_days"] == limit


def test_never_rotated_is_measured_from_creation_and_says_so():
    verdict = NotRotatedWithinLimit().evaluate(secret(name="prod/db/main", created_at=ago(75)), ctx())
    assert verdict.reason == ("Secrets Manager secret prod/db/main, 75 days since creation (never rotated), limit 60 for class database")


def test_not_rotated_unknown_or_future_dates_are_not_assessed():
    rule = NotRotatedWithinLimit()
    assert rule.evaluate(secret(created_at=None), ctx()).status == "not_assessed"
    verdict = rule.evaluate(secret(created_at=ahead(10)), ctx())
    assert verdict.status == "not_assessed" and "creation date" in verdict.reason and "in the future" in verdict.reason
    assert rule.evaluate(secret(created_at=ago(10), last_rotated_at=ahead(1)), ctx()).status == "not_assessed"


# ---------------------------------------------------------------- sm-rotation-overdue


def rotating(**fields):
    return secret(rotation_enabled=True, created_at=ago(400), **fields)


def test_overdue_population():
    rule = RotationOverdue()
    assert rule.applies(rotating()) and not rule.applies(secret(rotation_enabled=False))


def test_next_rotation_in_the_past_fails():
    verdict = RotationOverdue().evaluate(rotating(next_rotation_at=ago(3)), ctx())
    assert verdict.status == "fail"
    assert verdict.reason == (
        f"Secrets Manager secret prod/app/config: rotation overdue: next rotation was due {ago(3).date().isoformat()}, 3 days ago"
    )


def test_next_rotation_ahead_passes():
    assert RotationOverdue().evaluate(rotating(next_rotation_at=ahead(5)), ctx()).status == "pass"


@pytest.mark.parametrize("days, status", [(29, "pass"), (30, "pass"), (31, "fail")])
def test_last_rotation_plus_interval(days, status):
    verdict = RotationOverdue().evaluate(rotating(last_rotated_at=ago(days), rotation_interval_days=30), ctx())
    assert verdict.status == status and verdict.data["days_since_rotation"] == days


def test_either_signal_makes_it_overdue():
    c = rotating(last_rotated_at=ago(40), rotation_interval_days=30, next_rotation_at=ahead(1))
    verdict = RotationOverdue().evaluate(c, ctx())
    assert verdict.status == "fail" and "interval 30 days" in verdict.reason


def test_overdue_unknowable_is_not_assessed():
    rule = RotationOverdue()
    verdict = rule.evaluate(rotating(), ctx())
    assert verdict.status == "not_assessed" and "never rotated" in verdict.reason
    verdict = rule.evaluate(rotating(last_rotated_at=ago(10)), ctx())  # cron schedule: no interval
    assert verdict.status == "not_assessed" and "no fixed rotation interval" in verdict.reason


def test_overdue_future_last_rotation_is_not_assessed():
    c = rotating(last_rotated_at=ahead(2), rotation_interval_days=30, next_rotation_at=ahead(40))
    assert RotationOverdue().evaluate(c, ctx()).status == "not_assessed"


# ---------------------------------------------------------------- sm-not-accessed


@pytest.mark.parametrize("days, status", [(89, "pass"), (90, "pass"), (91, "fail")])
def test_not_accessed_boundaries(days, status):
    verdict = NotAccessed().evaluate(secret(last_used_at=ago(days)), ctx())
    assert verdict.status == status and verdict.data["idle_days"] == days


def test_no_last_accessed_date_is_never_a_silent_pass():
    verdict = NotAccessed().evaluate(secret(created_at=ago(500), last_used_at=None), ctx())
    assert verdict.status == "not_assessed"
    assert verdict.reason == "Secrets Manager secret prod/app/config: AWS did not report a last-accessed date"


def test_not_accessed_future_date_and_policy():
    assert NotAccessed().evaluate(secret(last_used_at=ahead(1)), ctx()).status == "not_assessed"
    assert NotAccessed().evaluate(secret(last_used_at=ago(20)), ctx(sm_not_accessed_days=10)).status == "fail"


# ---------------------------------------------------------------- sm-scheduled-deletion


def test_scheduled_deletion():
    rule = ScheduledDeletion()
    assert rule.applies(secret()) and rule.applies(secret(deleted_at=ago(1))) and not rule.applies(key())
    assert rule.evaluate(secret(), ctx()).status == "pass"
    verdict = rule.evaluate(secret(deleted_at=ago(4), enabled=False), ctx())
    assert verdict.status == "fail" and verdict.data["days_since"] == 4
    assert verdict.reason == (
        f"Secrets Manager secret prod/app/config was scheduled for deletion on {ago(4).date().isoformat()} "
        "(4 days ago) and is still present; confirm no consumer relies on it"
    )
