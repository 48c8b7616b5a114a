import pytest

from apps.evaluation.rules.password_policy import PasswordPolicyMissing, PasswordPolicyWeak
from tests.evaluation.rules.facts import ctx, source

STRONG = {
    "MinimumPasswordLength": 14,
    "RequireSymbols": True,
    "RequireNumbers": True,
    "RequireUppercaseCharacters": True,
    "RequireLowercaseCharacters": True,
    "AllowUsersToChangePassword": True,
    "ExpirePasswords": True,
    "MaxPasswordAge": 90,
    "PasswordReusePrevention": 24,
    "HardExpiry": False,
}


def _account(policy=STRONG, status="present", **facts):
    return source(
        iam_facts={
            "account_id": "123456789012",
            "password_policy": policy,
            "password_policy_status": status,
            "root": {"mfa_active": True, "access_keys_present": False},
            **facts,
        }
    )


# ---------------------------------------------------------------- password-policy-missing


@pytest.mark.parametrize(
    "policy, status, verdict_status",
    [
        (STRONG, "present", "pass"),
        (None, "absent", "fail"),
        (None, "unknown", "not_assessed"),
    ],
)
def test_missing_policy_states(policy, status, verdict_status):
    verdict = PasswordPolicyMissing().evaluate(_account(policy, status), ctx())
    assert verdict.status == verdict_status


def test_missing_policy_reason():
    verdict = PasswordPolicyMissing().evaluate(_account(None, "absent"), ctx())
    assert verdict.reason == "AWS account prod-aws (123456789012) has no password policy"


def test_missing_policy_with_no_facts_at_all_is_not_assessed():
    assert PasswordPolicyMissing().evaluate(source(iam_facts={}), ctx()).status == "not_assessed"


def test_missing_policy_from_an_older_snapshot_without_status():
    assert PasswordPolicyMissing().evaluate(source(iam_facts={"password_policy": None}), ctx()).status == "fail"


def test_password_policy_population():
    for rule in (PasswordPolicyMissing(), PasswordPolicyWeak()):
        assert not rule.applies(source(iam_facts=None))
        assert not rule.applies(source(kind="azure_key_vault", iam_facts=None))
    assert PasswordPolicyMissing().applies(_account(None, "absent"))
    assert not PasswordPolicyWeak().applies(_account(None, "absent"))
    assert not PasswordPolicyWeak().applies(_account(None, "unknown"))
    assert PasswordPolicyWeak().applies(_account())


# ---------------------------------------------------------------- password-policy-weak


def test_strong_policy_passes():
    verdict = PasswordPolicyWeak().evaluate(_account(), ctx())
    assert verdict.status == "pass" and verdict.data["gaps"] == 0


def test_weak_policy_lists_every_gap():
    weak = {
        "MinimumPasswordLength": 8,
        "RequireSymbols": False,
        "RequireNumbers": True,
        "ExpirePasswords": False,
        "PasswordReusePrevention": 5,
    }
    verdict = PasswordPolicyWeak().evaluate(_account(weak), ctx())
    assert verdict.status == "fail"
    assert verdict.reason == (
        "password policy of AWS account prod-aws (123456789012) falls short: minimum length 8 < 14; passwords never expire "
        "(at most 90 days required); reuse prevention 5 < 24; symbols not required; uppercase letters not required; "
        "lowercase letters not required"
    )
    assert verdict.data["gaps"] == 6 and verdict.data["minimum_length"] == 8 and verdict.data["require_numbers"] is True


@pytest.mark.parametrize("length, status", [(13, "fail"), (14, "pass"), (20, "pass")])
def test_length_boundary(length, status):
    assert PasswordPolicyWeak().evaluate(_account({**STRONG, "MinimumPasswordLength": length}), ctx()).status == status


@pytest.mark.parametrize("age, status", [(89, "pass"), (90, "pass"), (91, "fail"), (0, "fail"), (None, "fail")])
def test_max_age_boundary(age, status):
    policy = {**STRONG, "MaxPasswordAge": age} if age is not None else {k: v for k, v in STRONG.items() if k != "MaxPasswordAge"}
    assert PasswordPolicyWeak().evaluate(_account(policy), ctx()).status == status


def test_no_expiry_is_fine_when_the_organisation_requires_none():
    policy = {k: v for k, v in STRONG.items() if k != "MaxPasswordAge"} | {"ExpirePasswords": False}
    assert PasswordPolicyWeak().evaluate(_account(policy), ctx(password_max_age_days=0)).status == "pass"


@pytest.mark.parametrize("reuse, status", [(23, "fail"), (24, "pass"), (None, "fail")])
def test_reuse_boundary(reuse, status):
    policy = {**STRONG, "PasswordReusePrevention": reuse}
    assert PasswordPolicyWeak().evaluate(_account(policy), ctx()).status == status


def test_character_classes_are_only_required_when_the_organisation_asks():
    policy = {**STRONG, "RequireSymbols": False}
    assert PasswordPolicyWeak().evaluate(_account(policy), ctx()).status == "fail"
    assert PasswordPolicyWeak().evaluate(_account(policy), ctx(password_require_symbols=False)).status == "pass"


def test_malformed_values_count_as_gaps_not_crashes():
    policy = {**STRONG, "MinimumPasswordLength": "14", "RequireSymbols": "true", "MaxPasswordAge": True}
    verdict = PasswordPolicyWeak().evaluate(_account(policy), ctx())
    assert verdict.status == "fail"
    assert "minimum length not set" in verdict.reason and "symbols not required" in verdict.reason
    assert "passwords never expire" in verdict.reason
