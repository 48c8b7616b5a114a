"""Rules on SSM Parameter Store parameters."""

from __future__ import annotations

import pytest

from apps.evaluation.rules.ownership import OwnerTagMissing, RequestReferenceMissing
from apps.evaluation.rules.parameter_store import PlaintextSecretName, SecureStringNotChanged
from tests.evaluation.rules.facts import ago, ahead, cred, ctx


def param(**fields):
    fields.setdefault("last_rotated_at", ago(10))
    return cred("ssm_secure_string", created_at=None, **fields)


@pytest.mark.parametrize(("days", "status"), [(90, "pass"), (91, "fail")])
def test_a_securestring_not_changed_within_its_class_limit_fails(days, status):
    verdict = SecureStringNotChanged().evaluate(param(last_rotated_at=ago(days)), ctx())
    assert verdict.status == status and verdict.data["limit_days"] == 90


def test_the_class_comes_from_tags_and_names():
    database = param(name="/prod/orders/db-password", last_rotated_at=ago(70))
    assert database.credential_class == "database"
    verdict = SecureStringNotChanged().evaluate(database, ctx())
    assert verdict.status == "fail"
    assert verdict.reason == (
        "SecureString parameter /prod/orders/db-password, 70 days since last change, limit 60 for class database, and no Expiration policy"
    )


def test_an_expiration_policy_passes_however_old():
    verdict = SecureStringNotChanged().evaluate(param(last_rotated_at=ago(400), expires_at=ahead(20)), ctx())
    assert verdict.status == "pass" and "AWS deletes it on" in verdict.reason


def test_unreadable_policies_make_an_overdue_parameter_not_assessed():
    broken = {"policy_errors": ["policy 1 is not valid JSON (Expecting value at position 0): '{not json'"]}
    overdue = SecureStringNotChanged().evaluate(param(last_rotated_at=ago(400), attributes=broken), ctx())
    assert overdue.status == "not_assessed" and "could not be read" in overdue.reason
    # Within the limit it passes whatever its policies say.
    assert SecureStringNotChanged().evaluate(param(attributes=broken), ctx()).status == "pass"
    assert SecureStringNotChanged().evaluate(param(last_rotated_at=None), ctx()).status == "not_assessed"


def test_a_plaintext_parameter_with_a_secret_name_always_fails_without_its_value():
    plain = cred("ssm_plaintext", attributes={"secret_name_match": "password", "parameter_type": "String"})
    rule = PlaintextSecretName()
    assert rule.applies(plain) and not rule.applies(param())
    verdict = rule.evaluate(plain, ctx())
    assert verdict.status == "fail"
    assert verdict.reason == (
        "plaintext parameter /prod/legacy/smtp_password is a plaintext String parameter whose name looks like a secret "
        "('password'); its value was not read"
    )


def test_parameters_need_an_owner_and_securestrings_a_request_reference():
    owner, request = OwnerTagMissing(), RequestReferenceMissing()
    tagged = param(tags={"owner": "payments@example.com", "request-ref": "REQ-1"})
    assert owner.evaluate(tagged, ctx()).status == "pass" and request.evaluate(tagged, ctx()).status == "pass"
    assert owner.evaluate(param(), ctx()).status == "fail" and request.evaluate(param(), ctx()).status == "fail"
    assert owner.applies(cred("ssm_plaintext")) and not request.applies(cred("ssm_plaintext"))
    unreadable = param(attributes={"malformed_fields": ["tags"]})
    assert owner.evaluate(unreadable, ctx()).status == "not_assessed"
