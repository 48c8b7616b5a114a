"""Rules on SSH public keys, service-specific credentials, signing and server certificates."""

from __future__ import annotations

import pytest

from apps.evaluation.rules.iam_credentials import (
    ServerCertificateExpiry,
    ServiceCredentialRotationAge,
    SigningCertificateOnHuman,
    SshKeyRotationAge,
)
from tests.evaluation.rules.facts import ago, ahead, cred, ctx, identity, key


def ssh(**fields):
    fields.setdefault("last_rotated_at", fields.get("created_at", ago(10)))
    return cred("ssh_public_key", identity=identity(name="ci-bot", kind="service"), **fields)


def service(**fields):
    fields.setdefault("last_rotated_at", fields.get("created_at", ago(10)))
    return cred("service_credential", identity=identity(name="ci-bot", kind="service"), **fields)


# ---------------------------------------------------------------- ssh-key-rotation-age


def test_ssh_key_class_and_limit_come_from_the_policy():
    old = ssh(created_at=ago(400))
    assert old.credential_class == "ssh-key"
    verdict = SshKeyRotationAge().evaluate(old, ctx())
    assert verdict.status == "fail"
    assert verdict.reason == "SSH public key APKA…0001 of ci-bot, 400 days since upload, limit 365 for class ssh-key"
    assert SshKeyRotationAge().evaluate(ssh(created_at=ago(365)), ctx()).status == "pass"  # strictly more fails
    assert SshKeyRotationAge().evaluate(old, ctx(rotation_days={"ssh-key": 500, "default": 90})).status == "pass"


def test_ssh_key_population_and_unknowns():
    rule = SshKeyRotationAge()
    assert rule.applies(ssh()) and not rule.applies(ssh(enabled=False)) and not rule.applies(key())
    assert rule.evaluate(ssh(enabled=None, created_at=ago(400)), ctx()).status == "not_assessed"
    assert rule.evaluate(ssh(created_at=None, last_rotated_at=None), ctx()).status == "not_assessed"
    assert rule.evaluate(ssh(created_at=ahead(3)), ctx()).status == "not_assessed"


# ---------------------------------------------------------------- service-credential-rotation-age


@pytest.mark.parametrize(("days", "status"), [(90, "pass"), (91, "fail")])
def test_service_credential_age(days, status):
    c = service(created_at=ago(days))
    assert c.credential_class == "service-credential"
    verdict = ServiceCredentialRotationAge().evaluate(c, ctx())
    assert verdict.status == status and verdict.data["limit_days"] == 90
    assert not ServiceCredentialRotationAge().applies(ssh())


# ---------------------------------------------------------------- signing-certificate-human-active


def test_an_active_signing_certificate_on_a_person_fails():
    rule = SigningCertificateOnHuman()
    person = identity(name="alice", kind="human")
    active = cred("signing_certificate", identity=person)
    verdict = rule.evaluate(active, ctx())
    assert verdict.status == "fail" and "signing certificate CERT…0001 of alice is active" in verdict.reason
    assert rule.evaluate(cred("signing_certificate", identity=person, enabled=False), ctx()).status == "pass"
    assert rule.evaluate(cred("signing_certificate", identity=person, enabled=None), ctx()).status == "not_assessed"


def test_signing_certificates_of_services_are_not_judged():
    rule = SigningCertificateOnHuman()
    assert not rule.applies(cred("signing_certificate", identity=identity(kind="service")))
    assert not rule.applies(cred("signing_certificate"))  # no identity known
    assert not rule.applies(ssh())


# ---------------------------------------------------------------- server-certificate-expiry


@pytest.mark.parametrize(
    ("expires", "status"),
    [(ago(3), "fail"), (ahead(0, seconds=1), "fail"), (ahead(30), "fail"), (ahead(31), "pass"), (None, "not_assessed")],
)
def test_server_certificate_expiry(expires, status):
    assert ServerCertificateExpiry().evaluate(cred("server_certificate", expires_at=expires), ctx()).status == status


def test_server_certificate_reasons_and_window_from_the_policy():
    rule = ServerCertificateExpiry()
    soon = cred("server_certificate", expires_at=ahead(12))
    verdict = rule.evaluate(soon, ctx())
    assert verdict.reason == f"server certificate web-2026 expires {ahead(12).date().isoformat()}, in 12 days, warning window 30 days"
    assert rule.evaluate(soon, ctx(certificate_expiry_warning_days=7)).status == "pass"
    expired = rule.evaluate(cred("server_certificate", expires_at=ago(40)), ctx())
    assert expired.reason.endswith("40 days ago, and is still in IAM") and expired.data["expired"] is True
