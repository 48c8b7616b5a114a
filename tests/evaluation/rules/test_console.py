import pytest

from apps.evaluation.rules.console import ConsolePasswordNoMfa, ConsolePasswordUnused, HumanConsoleAndKeys, PrivilegedUserNoMfa
from tests.evaluation.rules.facts import ago, ahead, cred, ctx, identity, key


def _password(user=None, **fields):
    return cred("console_password", identity=user if user is not None else identity(), **fields)


# ---------------------------------------------------------------- console-password-no-mfa


@pytest.mark.parametrize("mfa, status", [(True, "pass"), (False, "fail"), (None, "not_assessed")])
def test_console_password_mfa_states(mfa, status):
    verdict = ConsolePasswordNoMfa().evaluate(_password(identity(mfa_active=mfa)), ctx())
    assert verdict.status == status and verdict.data["mfa_active"] is mfa


def test_console_password_without_mfa_reason():
    verdict = ConsolePasswordNoMfa().evaluate(_password(identity(name="bob", mfa_active=False)), ctx())
    assert verdict.reason == "console password of bob (human user): MFA not active"


def test_console_password_without_identity_uses_the_recorded_mfa_state():
    c = cred("console_password", attributes={"mfa_active": False, "user_name": "carol"})
    verdict = ConsolePasswordNoMfa().evaluate(c, ctx())
    assert verdict.status == "fail" and "carol" in verdict.reason


def test_console_password_mfa_population():
    rule = ConsolePasswordNoMfa()
    assert rule.applies(_password()) and not rule.applies(_password(enabled=False)) and not rule.applies(key())


# ---------------------------------------------------------------- console-password-unused


@pytest.mark.parametrize("days, status", [(44, "pass"), (45, "pass"), (46, "fail")])
def test_console_unused_boundaries(days, status):
    verdict = ConsolePasswordUnused().evaluate(_password(created_at=ago(500), last_used_at=ago(days)), ctx())
    assert verdict.status == status and verdict.data["idle_days"] == days


def test_console_unused_reason_is_exact():
    verdict = ConsolePasswordUnused().evaluate(_password(created_at=ago(500), last_used_at=ago(100)), ctx())
    assert verdict.reason == f"console password of alice, last used {ago(100).date().isoformat()}, 100 days ago, limit 45 days"


@pytest.mark.parametrize("age, status", [(20, "pass"), (45, "pass"), (46, "fail")])
def test_console_never_used_counts_once_older_than_the_limit(age, status):
    verdict = ConsolePasswordUnused().evaluate(_password(created_at=ago(age), attributes={"last_used_status": "none_recorded"}), ctx())
    assert verdict.status == status and "never used, set" in verdict.reason


def test_console_unused_uses_its_own_policy_limit():
    c = _password(created_at=ago(500), last_used_at=ago(20))
    assert ConsolePasswordUnused().evaluate(c, ctx(console_unused_days=10, unused_days=100)).status == "fail"


def test_console_unused_missing_or_future_dates_are_not_assessed():
    rule = ConsolePasswordUnused()
    assert rule.evaluate(_password(created_at=None), ctx()).status == "not_assessed"
    assert rule.evaluate(_password(created_at=ahead(2)), ctx()).status == "not_assessed"
    assert rule.evaluate(_password(attributes={"last_used_status": "unknown"}), ctx()).status == "not_assessed"


# ---------------------------------------------------------------- human-console-and-keys


def test_human_with_console_and_active_key_fails():
    user = identity(name="dave")
    _password(user)
    key(user=user, external_id="AKIADDDDDDDDDDDD9999")
    key(user=user, enabled=False)
    verdict = HumanConsoleAndKeys().evaluate(user, ctx())
    assert verdict.status == "fail"
    assert verdict.reason == "human user dave has a console password and 1 active access key (AKIA…9999)"
    assert verdict.data == {"console_password": True, "active_access_keys": 1}


@pytest.mark.parametrize(
    "console, key_state, status",
    [
        (True, False, "pass"),  # inactive key does not count
        (False, True, "pass"),  # keys but no console
        (True, None, "not_assessed"),
        (None, True, "not_assessed"),
        (True, True, "fail"),
    ],
)
def test_human_console_and_keys_states(console, key_state, status):
    user = identity()
    _password(user, enabled=console)
    key(user=user, enabled=key_state)
    assert HumanConsoleAndKeys().evaluate(user, ctx()).status == status


def test_human_console_and_keys_population_is_humans():
    rule = HumanConsoleAndKeys()
    assert rule.applies(identity()) and not rule.applies(identity(kind="service")) and not rule.applies(identity(kind="root"))


# ---------------------------------------------------------------- privileged-user-no-mfa


@pytest.mark.parametrize("mfa, status", [(True, "pass"), (False, "fail"), (None, "not_assessed")])
def test_privileged_human_mfa(mfa, status):
    verdict = PrivilegedUserNoMfa().evaluate(identity(privileged=True, mfa_active=mfa), ctx())
    assert verdict.status == status


def test_privileged_without_mfa_reason():
    verdict = PrivilegedUserNoMfa().evaluate(identity(name="eve", privileged=True, mfa_active=False), ctx())
    assert verdict.reason == "privileged human user eve: MFA not active"


def test_privileged_population():
    rule = PrivilegedUserNoMfa()
    assert rule.applies(identity(privileged=True))
    assert not rule.applies(identity(privileged=False)) and not rule.applies(identity(privileged=None))
    assert not rule.applies(identity(kind="root", privileged=True))
    assert not rule.applies(identity(kind="service", privileged=True, credentials=[key()]))
    service_with_console = identity(kind="service", privileged=True)
    _password(service_with_console)
    assert rule.applies(service_with_console)
    service_disabled_console = identity(kind="service", privileged=True)
    _password(service_disabled_console, enabled=False)
    assert not rule.applies(service_disabled_console)
