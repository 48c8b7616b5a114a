"""Rules about Key Vault keys and certificates: both sides of every limit, and the not-assessed paths."""

import pytest

from apps.evaluation.rules.key_vault_items import (
    CertificateExpiredEnabled,
    CertificateExpiringWithoutAutoRenew,
    CertificateNoExpiry,
    KeyNoExpiry,
    KeyRotationPolicy,
)
from tests.evaluation.rules.facts import ago, ahead, cred, ctx


def kv_key(**fields):
    fields.setdefault("created_at", ago(30))
    return cred("kv_key", **fields)


def kv_cert(**fields):
    fields.setdefault("created_at", ago(30))
    fields.setdefault("attributes", {"auto_renew": False})
    return cred("kv_certificate", **fields)


def rotating(interval, **fields):
    attributes = {"rotation_policy": "present", "rotation_trigger": f"P{interval}D after creation"}
    return kv_key(rotation_enabled=True, rotation_interval_days=interval, attributes=attributes, **fields)


# ---------------------------------------------------------------- no expiry (keys and certificates)


@pytest.mark.parametrize("rule, make, what", [(KeyNoExpiry(), kv_key, "key"), (CertificateNoExpiry(), kv_cert, "certificate")])
def test_no_expiry_both_kinds(rule, make, what):
    verdict = rule.evaluate(make(name="item"), ctx())
    assert verdict.status == "fail" and verdict.reason == f"enabled Key Vault {what} item has no expiry date"
    assert rule.evaluate(make(expires_at=ahead(100)), ctx()).status == "pass"
    assert rule.evaluate(make(attributes={"malformed_fields": ["exp"]}), ctx()).status == "not_assessed"
    assert rule.evaluate(make(enabled=None), ctx()).status == "not_assessed"
    assert rule.applies(make()) and not rule.applies(make(enabled=False))
    assert not rule.applies(cred("kv_secret"))


def test_no_expiry_rules_keep_to_their_kind():
    assert not KeyNoExpiry().applies(kv_cert()) and not CertificateNoExpiry().applies(kv_key())


# ---------------------------------------------------------------- kv-key-rotation-policy


def test_key_without_rotate_action_fails():
    c = kv_key(name="orders", rotation_enabled=False, attributes={"rotation_policy": "absent"})
    verdict = KeyRotationPolicy().evaluate(c, ctx())
    assert verdict.status == "fail"
    assert verdict.reason == "enabled Key Vault key orders has no rotation policy with a Rotate action"
    assert verdict.data["rotation_policy"] is False and verdict.data["limit_days"] == 365


@pytest.mark.parametrize("interval, status", [(365, "pass"), (366, "fail"), (90, "pass")])
def test_key_rotation_interval_against_the_class_limit(interval, status):
    verdict = KeyRotationPolicy().evaluate(rotating(interval), ctx())
    assert verdict.status == status
    assert verdict.data["interval_days"] == interval and verdict.data["credential_class"] == "vault-key"


def test_key_rotation_limit_is_the_policy_value():
    tighter = ctx(rotation_days={"default": 90, "vault-key": 180})
    assert KeyRotationPolicy().evaluate(rotating(180), tighter).status == "pass"
    assert KeyRotationPolicy().evaluate(rotating(181), tighter).status == "fail"


def test_key_rotation_not_assessed_when_policy_or_interval_unknown():
    rule = KeyRotationPolicy()
    unread = rule.evaluate(kv_key(rotation_enabled=None, attributes={"policy_errors": ["lifetime actions"]}), ctx())
    assert unread.status == "not_assessed" and "could not be read (lifetime actions)" in unread.reason
    no_interval = rule.evaluate(kv_key(rotation_enabled=True, rotation_interval_days=None), ctx())
    assert no_interval.status == "not_assessed" and "no interval" in no_interval.reason
    unknown_state = rule.evaluate(kv_key(enabled=None, rotation_enabled=False), ctx())
    assert unknown_state.status == "not_assessed"
    assert not rule.applies(kv_key(enabled=False)) and not rule.applies(kv_cert())


# ---------------------------------------------------------------- kv-certificate-expired-enabled


@pytest.mark.parametrize("when, status", [(ago(0, seconds=1), "fail"), (ago(40), "fail"), (ahead(0, seconds=1), "pass")])
def test_certificate_expired_enabled(when, status):
    assert CertificateExpiredEnabled().evaluate(kv_cert(expires_at=when), ctx()).status == status


def test_certificate_expired_reason_population_and_unknown_state():
    rule = CertificateExpiredEnabled()
    verdict = rule.evaluate(kv_cert(name="old", expires_at=ago(40)), ctx())
    assert verdict.reason == f"enabled Key Vault certificate old expired {ago(40).date().isoformat()}, 40 days ago, and is still enabled"
    assert not rule.applies(kv_cert(enabled=False, expires_at=ago(40)))
    assert not rule.applies(kv_cert(expires_at=None))
    assert rule.evaluate(kv_cert(enabled=None, expires_at=ago(1)), ctx()).status == "not_assessed"


# ---------------------------------------------------------------- kv-certificate-expiring-no-auto-renew


@pytest.mark.parametrize(
    "days_left, auto_renew, status",
    [
        (30, False, "fail"),  # on the window's edge (whole days)
        (31, False, "pass"),
        (5, False, "fail"),
        (5, True, "pass"),
        (5, None, "not_assessed"),
        (60, None, "pass"),  # outside the window the policy does not matter
    ],
)
def test_certificate_expiring_without_auto_renew(days_left, auto_renew, status):
    c = kv_cert(expires_at=ahead(days_left, hours=1), attributes={"auto_renew": auto_renew})
    verdict = CertificateExpiringWithoutAutoRenew().evaluate(c, ctx())
    assert verdict.status == status, verdict.reason
    assert verdict.data["warning_days"] == 30 and verdict.data["auto_renew"] is auto_renew


def test_certificate_warning_window_is_the_policy_value_and_expired_ones_are_left_to_the_other_rule():
    rule = CertificateExpiringWithoutAutoRenew()
    assert rule.evaluate(kv_cert(expires_at=ahead(40, hours=1)), ctx(kv_certificate_warning_days=45)).status == "fail"
    assert rule.evaluate(kv_cert(expires_at=ahead(40, hours=1)), ctx(kv_certificate_warning_days=39)).status == "pass"
    expired = rule.evaluate(kv_cert(expires_at=ago(3)), ctx())
    assert expired.status == "pass" and "kv-certificate-expired-enabled" in expired.reason
    reason = rule.evaluate(kv_cert(name="www", expires_at=ahead(10, hours=1)), ctx()).reason
    assert reason.endswith("and its policy does not renew it automatically") and "Key Vault certificate www" in reason


def test_rules_do_not_mutate_what_they_judge():
    c = kv_cert(expires_at=ahead(3), attributes={"auto_renew": False})
    k = rotating(400)
    before = (repr(c), repr(k))
    for rule in (CertificateExpiringWithoutAutoRenew(), CertificateExpiredEnabled(), CertificateNoExpiry()):
        rule.evaluate(c, ctx())
    KeyRotationPolicy().evaluate(k, ctx())
    KeyNoExpiry().evaluate(k, ctx())
    assert (repr(c), repr(k)) == before


@pytest.mark.parametrize("value, ok", [(0, True), (3650, True), (-1, False), (3651, False), ("30", False)])
def test_certificate_warning_window_bounds(value, ok):
    from apps.evaluation.policy import PolicyError, policy_from_dict

    if ok:
        assert policy_from_dict({"kv_certificate_warning_days": value}).kv_certificate_warning_days == value
    else:
        with pytest.raises(PolicyError, match="kv_certificate_warning_days"):
            policy_from_dict({"kv_certificate_warning_days": value})


def test_vault_keys_and_certificates_have_fixed_classes():
    from apps.evaluation.policy import default_policy

    policy = default_policy()
    assert policy.classify("kv_key", "db-password-encryption", {"class": "database"}) == "vault-key"
    assert policy.classify("kv_certificate", "api-token", {}) == "certificate"
    assert policy.rotation_limit("vault-key") == 365
