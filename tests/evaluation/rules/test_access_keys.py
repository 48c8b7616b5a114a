import pytest

from apps.evaluation.rules.access_keys import (
    InactiveKeyNotRemoved,
    KeyNeverUsedSinceCreation,
    KeyRotationAge,
    KeyUnused,
    TwoActiveKeys,
)
from tests.evaluation.rules.facts import NOW, ago, ahead, cred, ctx, identity, key

# ---------------------------------------------------------------- iam-key-rotation-age


@pytest.mark.parametrize("days, status", [(89, "pass"), (90, "pass"), (91, "fail")])
def test_rotation_age_boundaries_at_the_iam_user_key_limit(days, status):
    verdict = KeyRotationAge().evaluate(key(created_at=ago(days)), ctx())
    assert verdict.status == status
    assert verdict.data["age_days"] == days and verdict.data["limit_days"] == 90
    assert verdict.data["basis"] == "last_rotated_at" and verdict.data["basis_date"] == ago(days).isoformat()


def test_rotation_age_reason_is_exact_and_abbreviates_the_key_id():
    verdict = KeyRotationAge().evaluate(key(created_at=ago(212)), ctx())
    assert verdict.reason == "active access key AKIA…MPLE, 212 days since last rotation, limit 90 for class iam-user-key"


def test_rotation_age_counts_whole_days_so_90_days_and_23_hours_still_passes():
    assert KeyRotationAge().evaluate(key(created_at=ago(90, hours=23)), ctx()).status == "pass"


def test_rotation_age_follows_the_policy_limit():
    verdict = KeyRotationAge().evaluate(key(created_at=ago(40)), ctx(rotation_days={"default": 90, "iam-user-key": 30}))
    assert verdict.status == "fail" and "limit 30 for class iam-user-key" in verdict.reason


def test_rotation_age_falls_back_to_creation_and_says_so():
    verdict = KeyRotationAge().evaluate(key(created_at=ago(100), last_rotated_at=None), ctx())
    assert verdict.status == "fail" and "100 days since creation (never rotated)" in verdict.reason
    assert verdict.data["basis"] == "created_at"


def test_rotation_age_without_dates_is_not_assessed():
    verdict = KeyRotationAge().evaluate(key(created_at=None, last_rotated_at=None), ctx())
    assert verdict.status == "not_assessed" and "dates unknown" in verdict.reason


def test_rotation_age_future_date_is_not_assessed_never_a_pass():
    verdict = KeyRotationAge().evaluate(key(created_at=ahead(3), last_rotated_at=None), ctx())
    assert verdict.status == "not_assessed"
    assert verdict.reason == f"active access key AKIA…MPLE: creation date {ahead(3).date().isoformat()} is in the future"


def test_rotation_age_population_is_active_keys_only():
    rule = KeyRotationAge()
    assert rule.applies(key()) and not rule.applies(key(enabled=False))
    assert not rule.applies(cred("console_password")) and not rule.applies(cred("root_access_key"))


def test_rotation_age_unknown_status_only_matters_when_it_would_fail():
    rule = KeyRotationAge()
    assert rule.applies(key(enabled=None))
    assert rule.evaluate(key(enabled=None, created_at=ago(10)), ctx()).status == "pass"
    verdict = rule.evaluate(key(enabled=None, created_at=ago(200)), ctx())
    assert verdict.status == "not_assessed" and "whether it is enabled is unknown" in verdict.reason


def test_short_key_ids_are_not_abbreviated():
    assert "active access key AKIA1," in KeyRotationAge().evaluate(key(external_id="AKIA1", created_at=ago(1)), ctx()).reason


# ---------------------------------------------------------------- iam-key-unused


@pytest.mark.parametrize("days, status", [(44, "pass"), (45, "pass"), (46, "fail")])
def test_unused_boundaries_on_last_use(days, status):
    verdict = KeyUnused().evaluate(key(created_at=ago(300), last_used_at=ago(days)), ctx())
    assert verdict.status == status
    assert verdict.data == {"never_used": False, "last_used_at": ago(days).isoformat(), "idle_days": days, "limit_days": 45}


def test_unused_reason_is_exact():
    verdict = KeyUnused().evaluate(key(created_at=ago(300), last_used_at=ago(60)), ctx())
    assert verdict.reason == f"active access key AKIA…MPLE, last used {ago(60).date().isoformat()}, 60 days ago, limit 45 days"


@pytest.mark.parametrize("status_attr", [None, "never_used", "none_recorded"])
@pytest.mark.parametrize("age, status", [(10, "pass"), (45, "pass"), (46, "fail")])
def test_never_used_counts_only_once_older_than_the_limit(status_attr, age, status):
    attributes = {} if status_attr is None else {"last_used_status": status_attr}
    verdict = KeyUnused().evaluate(key(created_at=ago(age), attributes=attributes), ctx())
    assert verdict.status == status and verdict.data["never_used"] is True and "never used" in verdict.reason


def test_unused_with_unknown_last_use_is_not_assessed():
    verdict = KeyUnused().evaluate(key(created_at=ago(300), attributes={"last_used_status": "unknown"}), ctx())
    assert verdict.status == "not_assessed" and "last use unknown" in verdict.reason


def test_unused_reported_used_without_a_date_is_not_assessed():
    assert KeyUnused().evaluate(key(attributes={"last_used_status": "used"}), ctx()).status == "not_assessed"


def test_never_used_with_unknown_creation_is_not_assessed():
    verdict = KeyUnused().evaluate(key(created_at=None, last_rotated_at=None), ctx())
    assert verdict.status == "not_assessed" and "creation date is unknown" in verdict.reason


def test_never_used_created_in_the_future_is_not_assessed():
    verdict = KeyUnused().evaluate(key(created_at=ahead(1)), ctx())
    assert verdict.status == "not_assessed" and "creation date" in verdict.reason and "is in the future" in verdict.reason


def test_last_use_in_the_future_is_not_assessed():
    verdict = KeyUnused().evaluate(key(created_at=ago(100), last_used_at=ahead(2)), ctx())
    assert verdict.status == "not_assessed" and "last use date" in verdict.reason


def test_unused_follows_the_policy_and_skips_inactive_keys():
    assert KeyUnused().evaluate(key(created_at=ago(300), last_used_at=ago(20)), ctx(unused_days=15)).status == "fail"
    assert not KeyUnused().applies(key(enabled=False))


# ---------------------------------------------------------------- iam-key-never-used-since-creation


def _console_user(**fields):
    user = identity(**fields)
    cred("console_password", identity=user)
    return user


def test_key_set_up_with_a_console_user_and_never_used_fails():
    user = _console_user()
    verdict = KeyNeverUsedSinceCreation().evaluate(key(user=user, created_at=ago(40)), ctx())
    assert verdict.status == "fail"
    assert verdict.reason == (
        f"active access key AKIA…MPLE: never used since its creation on {ago(40).date().isoformat()}, "
        "40 days ago; user alice also has a console password"
    )
    assert verdict.data["user_has_console_password"] is True and verdict.data["age_days"] == 40


@pytest.mark.parametrize("age, status", [({"hours": 23}, "pass"), ({"days": 1}, "fail"), ({"days": 2}, "fail")])
def test_never_used_since_creation_waits_one_day(age, status):
    user = _console_user()
    assert KeyNeverUsedSinceCreation().evaluate(key(user=user, created_at=ago(**age)), ctx()).status == status


def test_never_used_key_of_user_without_console_passes():
    verdict = KeyNeverUsedSinceCreation().evaluate(key(user=identity(kind="service"), created_at=ago(40)), ctx())
    assert verdict.status == "pass" and "no console password" in verdict.reason


def test_a_disabled_console_password_does_not_count():
    user = identity()
    cred("console_password", identity=user, enabled=False)
    assert KeyNeverUsedSinceCreation().evaluate(key(user=user, created_at=ago(40)), ctx()).status == "pass"


def test_used_key_passes_and_unknown_use_or_dates_are_not_assessed():
    rule, user = KeyNeverUsedSinceCreation(), _console_user()
    assert rule.evaluate(key(user=user, created_at=ago(40), last_used_at=ago(3)), ctx()).status == "pass"
    assert rule.evaluate(key(user=user, attributes={"last_used_status": "unknown"}), ctx()).status == "not_assessed"
    assert rule.evaluate(key(user=user, created_at=None), ctx()).status == "not_assessed"
    assert rule.evaluate(key(user=user, created_at=ahead(5)), ctx()).status == "not_assessed"
    assert rule.evaluate(key(created_at=ago(40)), ctx()).status == "not_assessed"  # user not in the inventory


def test_never_used_since_creation_population():
    rule = KeyNeverUsedSinceCreation()
    assert rule.applies(key()) and not rule.applies(key(enabled=False)) and not rule.applies(cred("console_password"))


# ---------------------------------------------------------------- iam-key-two-active


def test_two_active_keys_fail_naming_both():
    user = identity()
    key(user=user, external_id="AKIAAAAAAAAAAAAA1111", created_at=ago(100))
    key(user=user, external_id="AKIABBBBBBBBBBBB2222", created_at=ago(2))
    verdict = TwoActiveKeys().evaluate(user, ctx())
    assert verdict.status == "fail"
    assert verdict.reason == (
        f"user alice has 2 active access keys: AKIA…1111 (created {ago(100).date().isoformat()}), "
        f"AKIA…2222 (created {ago(2).date().isoformat()})"
    )
    assert verdict.data == {"access_keys": 2, "active_keys": 2, "unknown_status_keys": 0}


def test_one_active_and_one_inactive_key_passes():
    user = identity()
    key(user=user)
    key(user=user, enabled=False)
    assert TwoActiveKeys().evaluate(user, ctx()).status == "pass"


def test_one_active_and_one_unknown_is_not_assessed():
    user = identity()
    key(user=user)
    key(user=user, enabled=None)
    assert TwoActiveKeys().evaluate(user, ctx()).status == "not_assessed"


def test_two_active_keys_population_is_users_with_keys():
    rule = TwoActiveKeys()
    assert not rule.applies(identity())
    assert not rule.applies(identity(credentials=[cred("console_password")]))
    assert rule.applies(identity(credentials=[key(enabled=False)]))


# ---------------------------------------------------------------- iam-key-inactive-not-removed


@pytest.mark.parametrize("days, status", [(29, "pass"), (30, "pass"), (31, "fail")])
def test_inactive_key_boundaries_on_last_change(days, status):
    verdict = InactiveKeyNotRemoved().evaluate(key(enabled=False, created_at=ago(400), last_changed_at=ago(days)), ctx())
    assert verdict.status == status and verdict.data["basis"] == "last_changed_at"
    assert f"{days} days since last change on" in verdict.reason


def test_inactive_key_without_change_date_uses_rotation_date_and_says_so():
    verdict = InactiveKeyNotRemoved().evaluate(key(enabled=False, created_at=ago(120)), ctx())
    assert verdict.status == "fail" and verdict.data["basis"] == "last_rotated_at"
    assert verdict.reason == (
        f"inactive access key AKIA…MPLE, 120 days since last rotation (no deactivation date recorded) on "
        f"{ago(120).date().isoformat()}, limit 30 days"
    )


def test_inactive_key_falls_back_to_creation():
    verdict = InactiveKeyNotRemoved().evaluate(key(enabled=False, created_at=ago(50), last_rotated_at=None), ctx())
    assert verdict.status == "fail" and verdict.data["basis"] == "created_at" and "since creation" in verdict.reason


def test_inactive_key_without_any_date_or_with_a_future_date_is_not_assessed():
    rule = InactiveKeyNotRemoved()
    assert rule.evaluate(key(enabled=False, created_at=None, last_rotated_at=None), ctx()).status == "not_assessed"
    verdict = rule.evaluate(key(enabled=False, created_at=ago(5), last_changed_at=ahead(1)), ctx())
    assert verdict.status == "not_assessed" and "last change date" in verdict.reason and "in the future" in verdict.reason


def test_inactive_key_population_and_policy():
    rule = InactiveKeyNotRemoved()
    assert rule.applies(key(enabled=False)) and not rule.applies(key()) and not rule.applies(key(enabled=None))
    assert rule.evaluate(key(enabled=False, last_changed_at=ago(1)), ctx(inactive_key_max_days=0)).status == "fail"


def test_now_is_used_from_the_context():
    assert KeyRotationAge().evaluate(key(created_at=ago(10)), ctx(now=NOW.replace(year=2027))).status == "fail"
