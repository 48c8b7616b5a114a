"""Entra ID application credential rules: both sides of every limit, their populations and the
not-assessed paths (missing or unreadable data never passes)."""

import pytest

from apps.evaluation.rules.entra import (
    AppWithoutOwner,
    ExpiredStillPresent,
    ForeignAppCredentialAge,
    MultipleActiveSecrets,
    SecretLifetimeTooLong,
)
from tests.evaluation.rules.facts import ago, ahead, cred, ctx, identity

TENANT = "72f988bf-0000-4000-8000-00000000cafe"
VENDOR = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"


def app(*, owners=("ops@example.com",), owner_count=None, object_type="application", credentials=()):
    attributes = {"object_type": object_type, "owners": list(owners), "owner_count": len(owners) if owner_count is None else owner_count}
    return identity(
        name="billing", kind="service", external_id="applications/0b1e", data={"attributes": attributes}, credentials=credentials
    )


def secret(start=None, end=None, **attributes):
    attributes.setdefault("object_type", "application")
    attributes.setdefault("foreign_tenant", False)
    return cred("entra_client_secret", not_before=start, created_at=start, expires_at=end, attributes=attributes)


def certificate(start=None, end=None, **attributes):
    attributes.setdefault("object_type", "application")
    attributes.setdefault("foreign_tenant", False)
    return cred("entra_certificate", not_before=start, created_at=start, expires_at=end, attributes=attributes)


# ---------------------------------------------------------------- entra-secret-lifetime-too-long


@pytest.mark.parametrize("days, status", [(179, "pass"), (180, "pass"), (181, "fail"), (730, "fail")])
def test_lifetime_limit_both_sides(days, status):
    verdict = SecretLifetimeTooLong().evaluate(secret(ago(10), ago(10) + (ahead(days) - ahead(0))), ctx())
    assert verdict.status == status and verdict.data["lifetime_days"] == days and verdict.data["limit_days"] == 180


def test_lifetime_reason_policy_and_population():
    holder = app(credentials=[secret(ago(10), ahead(720))])
    verdict = SecretLifetimeTooLong().evaluate(holder.credentials[0], ctx())
    assert verdict.reason == (
        f"client secret 'ci deploy' of application billing is valid for 730 days, from {ago(10).date()} to {ahead(720).date()}, limit 180 days"
    )
    assert SecretLifetimeTooLong().evaluate(secret(ago(10), ahead(720)), ctx(entra_secret_max_lifetime_days=800)).status == "pass"
    rule = SecretLifetimeTooLong()
    assert rule.applies(secret()) and not rule.applies(certificate()) and not rule.applies(cred("kv_secret"))


def test_lifetime_not_assessed_without_readable_dates():
    rule = SecretLifetimeTooLong()
    assert rule.evaluate(secret(None, ahead(10)), ctx()).status == "not_assessed"
    unreadable = rule.evaluate(secret(ago(1), None, malformed_fields=["endDateTime"]), ctx())
    assert unreadable.status == "not_assessed" and "could not be read" in unreadable.reason
    assert rule.evaluate(secret(ago(1), ago(5)), ctx()).status == "not_assessed"  # ends before it starts


# ---------------------------------------------------------------- entra-credential-expired-present


@pytest.mark.parametrize("end, status", [(ago(0, seconds=1), "fail"), (ago(40), "fail"), (ahead(0, seconds=1), "pass")])
def test_expired_both_sides(end, status):
    assert ExpiredStillPresent().evaluate(secret(ago(100), end), ctx()).status == status
    assert ExpiredStillPresent().evaluate(certificate(ago(100), end), ctx()).status == status


def test_expired_reason_population_and_unknown():
    verdict = ExpiredStillPresent().evaluate(certificate(ago(400), ago(40)), ctx())
    assert verdict.reason.endswith(f"expired {ago(40).date()}, 40 days ago, and is still on it")
    assert verdict.data["days_since_expiry"] == 40
    assert not ExpiredStillPresent().applies(cred("kv_secret", expires_at=ago(3)))
    assert ExpiredStillPresent().evaluate(secret(ago(3), None, malformed_fields=["endDateTime"]), ctx()).status == "not_assessed"


# ---------------------------------------------------------------- entra-app-no-owner


def test_app_without_owner_fails_with_owner_passes():
    assert AppWithoutOwner().evaluate(app(owners=(), credentials=[secret(ago(1), ahead(9))]), ctx()).status == "fail"
    verdict = AppWithoutOwner().evaluate(app(owners=("ops@example.com",), credentials=[secret(ago(1), ahead(9))]), ctx())
    assert verdict.status == "pass" and "ops@example.com" in verdict.reason and verdict.data["owner_count"] == 1


def test_app_owner_population_and_unknown_owners():
    rule = AppWithoutOwner()
    assert not rule.applies(app(owners=()))  # no credentials: nothing to answer for
    assert not rule.applies(identity(credentials=[cred("access_key")]))
    unknown = rule.evaluate(app(owners=(), owner_count="?", credentials=[certificate(ago(1), ahead(9))]), ctx())
    assert unknown.status == "not_assessed" and "owners could not be read" in unknown.reason


# ---------------------------------------------------------------- entra-app-multiple-secrets


def test_two_active_secrets_fail_one_passes():
    rule = MultipleActiveSecrets()
    two = app(credentials=[secret(ago(10), ahead(10)), secret(ago(1), ahead(100))])
    assert rule.evaluate(two, ctx()).status == "fail" and rule.evaluate(two, ctx()).data["active_secrets"] == 2
    rotated = app(credentials=[secret(ago(100), ago(0, seconds=1)), secret(ago(1), ahead(100))])  # the old one has ended
    assert rule.evaluate(rotated, ctx()).status == "pass"
    future = app(credentials=[secret(ahead(0, seconds=1), ahead(100)), secret(ago(1), ahead(100))])  # not started yet
    assert rule.evaluate(future, ctx()).status == "pass"
    with_cert = app(credentials=[certificate(ago(1), ahead(100)), secret(ago(1), ahead(100))])  # certificates do not count
    assert rule.evaluate(with_cert, ctx()).status == "pass"


def test_multiple_secrets_unknown_dates_not_assessed():
    rule = MultipleActiveSecrets()
    unknown = app(credentials=[secret(ago(1), ahead(10)), secret(None, None, malformed_fields=["startDateTime", "endDateTime"])])
    assert rule.evaluate(unknown, ctx()).status == "not_assessed"
    assert not rule.applies(app(credentials=[certificate(ago(1), ahead(9))]))


# ---------------------------------------------------------------- entra-foreign-app-credential-age


@pytest.mark.parametrize("age, status", [(89, "pass"), (90, "pass"), (91, "fail")])
def test_foreign_credential_age_both_sides(age, status):
    c = secret(ago(age), ahead(300), object_type="service principal", foreign_tenant=True, app_owner_organization_id=VENDOR)
    verdict = ForeignAppCredentialAge().evaluate(c, ctx())
    assert verdict.status == status and verdict.data["limit_days"] == 90 and verdict.data["owner_tenant"] == VENDOR


def test_foreign_credential_limit_is_the_third_party_class():
    c = certificate(ago(120), ahead(300), object_type="service principal", foreign_tenant=True, app_owner_organization_id=VENDOR)
    assert ForeignAppCredentialAge().evaluate(c, ctx()).status == "fail"
    policy = {"rotation_days": {"default": 90, "third-party": 180}}
    assert ForeignAppCredentialAge().evaluate(c, ctx(**policy)).status == "pass"


def test_foreign_population_and_not_assessed():
    rule = ForeignAppCredentialAge()
    assert not rule.applies(secret(ago(400), ahead(9)))  # our own application
    assert not rule.applies(secret(ago(400), ahead(9), object_type="service principal", foreign_tenant=False))
    unknown_tenant = secret(ago(400), ahead(9), object_type="service principal", foreign_tenant=None)
    assert rule.applies(unknown_tenant) and rule.evaluate(unknown_tenant, ctx()).status == "not_assessed"
    no_start = secret(None, ahead(9), object_type="service principal", foreign_tenant=True, malformed_fields=["startDateTime"])
    assert rule.evaluate(no_start, ctx()).status == "not_assessed"
    future = secret(ahead(3), ahead(9), object_type="service principal", foreign_tenant=True)
    assert rule.evaluate(future, ctx()).status == "not_assessed"
