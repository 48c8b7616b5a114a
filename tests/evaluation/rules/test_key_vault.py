import pytest

from apps.evaluation.rules.key_vault import ExpiredEnabled, ExpiringSoon, NoExpiry, NotUpdated, ValidityTooLong
from tests.evaluation.rules.facts import ago, ahead, cred, ctx, key


def kv(**fields):
    fields.setdefault("created_at", ago(30))
    return cred("kv_secret", **fields)


# ---------------------------------------------------------------- kv-secret-no-expiry


def test_no_expiry():
    rule = NoExpiry()
    verdict = rule.evaluate(kv(name="db-password"), ctx())
    assert verdict.status == "fail" and verdict.reason == "enabled Key Vault secret db-password has no expiry date"
    assert rule.evaluate(kv(expires_at=ahead(100)), ctx()).status == "pass"


def test_no_expiry_population_and_unknowns():
    rule = NoExpiry()
    assert rule.applies(kv()) and not rule.applies(kv(enabled=False)) and not rule.applies(key())
    assert rule.evaluate(kv(attributes={"malformed_fields": ["exp"]}), ctx()).status == "not_assessed"
    assert rule.evaluate(kv(enabled=None), ctx()).status == "not_assessed"
    assert rule.evaluate(kv(enabled=None, expires_at=ahead(10)), ctx()).status == "pass"


# ---------------------------------------------------------------- kv-secret-expired-enabled


@pytest.mark.parametrize("when, status", [(ago(0, seconds=1), "fail"), (ago(40), "fail"), (ahead(0, seconds=1), "pass")])
def test_expired_enabled(when, status):
    assert ExpiredEnabled().evaluate(kv(expires_at=when), ctx()).status == status


def test_expired_enabled_reason_and_population():
    verdict = ExpiredEnabled().evaluate(kv(name="old", expires_at=ago(40)), ctx())
    assert verdict.reason == (f"enabled Key Vault secret old expired {ago(40).date().isoformat()}, 40 days ago, and is still enabled")
    rule = ExpiredEnabled()
    assert not rule.applies(kv(enabled=False, expires_at=ago(40)))
    assert not rule.applies(kv())  # no expiry: the no-expiry rule's job
    assert rule.evaluate(kv(enabled=None, expires_at=ago(4)), ctx()).status == "not_assessed"


# ---------------------------------------------------------------- kv-secret-expiring-soon


@pytest.mark.parametrize("days, status", [(29, "fail"), (30, "fail"), (31, "pass"), (0.5, "fail")])
def test_expiring_soon_window(days, status):
    verdict = ExpiringSoon().evaluate(kv(expires_at=ahead(days)), ctx())
    assert verdict.status == status and verdict.data["days_left"] == int(days)


def test_expiring_soon_reason_and_policy():
    verdict = ExpiringSoon().evaluate(kv(name="api", expires_at=ahead(19)), ctx())
    assert verdict.reason == (f"enabled Key Vault secret api expires {ahead(19).date().isoformat()}, in 19 days, warning window 30 days")
    assert ExpiringSoon().evaluate(kv(expires_at=ahead(19)), ctx(kv_expiry_warning_days=10)).status == "pass"


def test_already_expired_is_left_to_the_expired_rule():
    verdict = ExpiringSoon().evaluate(kv(expires_at=ago(2)), ctx())
    assert verdict.status == "pass" and "kv-secret-expired-enabled" in verdict.reason


def test_expiring_soon_population():
    rule = ExpiringSoon()
    assert rule.applies(kv(expires_at=ahead(3))) and not rule.applies(kv())
    assert not rule.applies(kv(enabled=False, expires_at=ahead(3)))


# ---------------------------------------------------------------- kv-secret-validity-too-long


@pytest.mark.parametrize("validity, status", [(364, "pass"), (365, "pass"), (366, "fail")])
def test_validity_boundaries_from_creation(validity, status):
    verdict = ValidityTooLong().evaluate(kv(created_at=ago(10), expires_at=ago(10) + (ahead(validity) - ago(0))), ctx())
    assert verdict.status == status and verdict.data["validity_days"] == validity and verdict.data["basis"] == "created_at"


def test_validity_prefers_not_before():
    c = kv(created_at=ago(100), not_before=ahead(30), expires_at=ahead(300))
    verdict = ValidityTooLong().evaluate(c, ctx())
    assert verdict.status == "pass" and verdict.data["basis"] == "not_before" and verdict.data["validity_days"] == 270
    assert verdict.reason.startswith("enabled Key Vault secret app-config valid for 270 days, from its not-before date")


def test_validity_uses_current_version_creation_not_a_later_property_edit():
    c = kv(created_at=ago(400), last_rotated_at=ago(5), expires_at=ahead(300))
    verdict = ValidityTooLong().evaluate(c, ctx())
    assert verdict.status == "fail" and verdict.data["validity_days"] == 700


def test_validity_unknowns_and_future_creation():
    rule = ValidityTooLong()
    assert rule.evaluate(kv(created_at=None, expires_at=ahead(10)), ctx()).status == "not_assessed"
    verdict = rule.evaluate(kv(created_at=ahead(5), expires_at=ahead(900)), ctx())
    assert verdict.status == "not_assessed" and "creation date" in verdict.reason and "in the future" in verdict.reason
    assert rule.evaluate(kv(created_at=ago(5), expires_at=ago(10)), ctx()).status == "not_assessed"


def test_validity_population_includes_disabled_secrets_with_expiry():
    rule = ValidityTooLong()
    assert rule.applies(kv(enabled=False, expires_at=ahead(10))) and not rule.applies(kv())


def test_validity_policy_limit():
    c = kv(created_at=ago(0), expires_at=ahead(100))
    assert ValidityTooLong().evaluate(c, ctx(kv_max_validity_days=90)).status == "fail"


# ---------------------------------------------------------------- kv-secret-not-updated


@pytest.mark.parametrize("days, status", [(89, "pass"), (90, "pass"), (91, "fail")])
def test_not_updated_default_class(days, status):
    verdict = NotUpdated().evaluate(kv(created_at=ago(500), last_rotated_at=ago(days)), ctx())
    assert verdict.status == status and verdict.data["credential_class"] == "default"


def test_not_updated_is_class_dependent():
    assert NotUpdated().evaluate(kv(name="orders-db-password", created_at=ago(61)), ctx()).status == "fail"
    assert NotUpdated().evaluate(kv(name="edge-tls", created_at=ago(61)), ctx()).status == "pass"


def test_not_updated_reason_and_unknowns():
    verdict = NotUpdated().evaluate(kv(name="edge-tls", created_at=ago(400)), ctx())
    assert verdict.reason == ("enabled Key Vault secret edge-tls, 400 days since creation (never rotated), limit 365 for class certificate")
    assert NotUpdated().evaluate(kv(created_at=None), ctx()).status == "not_assessed"
    assert NotUpdated().evaluate(kv(created_at=ahead(1)), ctx()).status == "not_assessed"
    assert not NotUpdated().applies(kv(enabled=False))
