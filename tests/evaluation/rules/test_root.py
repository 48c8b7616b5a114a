import pytest

from apps.evaluation.rules.root import RootAccessKeyActive, RootNoMfa
from tests.evaluation.rules.facts import ago, cred, ctx, identity, key


def _root(**fields):
    return identity(kind="root", name="root", external_id="arn:aws:iam::123456789012:root", privileged=True, **fields)


@pytest.mark.parametrize("enabled, status", [(True, "fail"), (False, "pass"), (None, "not_assessed")])
def test_root_access_key_states(enabled, status):
    verdict = RootAccessKeyActive().evaluate(cred("root_access_key", enabled=enabled), ctx())
    assert verdict.status == status and verdict.data["enabled"] is enabled


def test_root_access_key_reason_names_key_and_last_use():
    verdict = RootAccessKeyActive().evaluate(cred("root_access_key", last_used_at=ago(3)), ctx())
    assert verdict.reason == f"root access key 123456789012#root-key-1 is active, last used {ago(3).date().isoformat()}"
    verdict = RootAccessKeyActive().evaluate(cred("root_access_key"), ctx())
    assert verdict.reason == "root access key 123456789012#root-key-1 is active, no use recorded"


def test_root_access_key_population():
    rule = RootAccessKeyActive()
    assert rule.applies(cred("root_access_key", enabled=False)) and not rule.applies(key())


@pytest.mark.parametrize("mfa, status", [(True, "pass"), (False, "fail"), (None, "not_assessed")])
def test_root_mfa_states(mfa, status):
    verdict = RootNoMfa().evaluate(_root(mfa_active=mfa, data={"attributes": {"mfa_basis": "credential_report"}}), ctx())
    assert verdict.status == status and verdict.data["mfa_active"] is mfa


def test_root_mfa_reason_names_the_account_and_basis():
    verdict = RootNoMfa().evaluate(_root(mfa_active=False, data={"attributes": {"mfa_basis": "account_summary"}}), ctx())
    assert verdict.reason == "root user of AWS account 123456789012: MFA not active (from account_summary)"


def test_root_mfa_population_and_missing_data():
    rule = RootNoMfa()
    assert rule.applies(_root()) and not rule.applies(identity(privileged=True))
    assert rule.evaluate(_root(mfa_active=False, data={}), ctx()).data["mfa_basis"] == "unknown"
