"""Rules for initial secrets (9.2.4.04), break-glass users (9.2.4.16), single sign-on
(9.3.1.07) and third parties (9.2.4.14): both sides of every limit, populations decided by
the policy, not-assessed paths and hostile tag values."""

from __future__ import annotations

import json

import pytest

from apps.evaluation.rules.identity_controls import (
    BreakGlassMfa,
    BreakGlassNoAccessKeys,
    BreakGlassOwner,
    BreakGlassUnused,
    ConsolePasswordOutsideSso,
    ConsolePasswordUserShare,
    IdentityCenterNotUsed,
    RoleExternalTrustNoExternalId,
    ThirdPartyKeyAge,
    ThirdPartyUserNoExpiry,
)
from apps.evaluation.rules.initial_secrets import (
    ConsolePasswordInitialUnchanged,
    ConsolePasswordNoResetRequired,
    SecretInitialVersionNotRotated,
)
from tests.evaluation.rules.facts import ago, ahead, cred, ctx, identity, key, source
from tests.support.hostile import SHORT_TEXT


def password(*, created=None, changed=None, used=None, reset=None, basis="login_profile", user=None, **attributes):
    created = created if created is not None else ago(100)
    return cred(
        "console_password",
        identity=user,
        created_at=created,
        last_rotated_at=changed if changed is not None else created,
        last_used_at=used,
        attributes={
            "created_at_basis": basis,
            "password_reset_required": reset,
            "last_used_status": "used" if used else "none_recorded",
            **attributes,
        },
    )


def status(rule, subject, context=None):
    return rule.evaluate(subject, context or ctx()).status


# ------------------------------------------------------------ console-password-initial-unchanged


def test_initial_password_used_since_fails_and_says_when():
    verdict = ConsolePasswordInitialUnchanged().evaluate(password(used=ago(3)), ctx())
    assert verdict.status == "fail" and "never changed since" in verdict.reason and verdict.data["initial"] is True


@pytest.mark.parametrize(
    "fields, expected",
    [
        ({"changed": ago(100, seconds=-120)}, "fail"),  # 120 s after creation: still the initial one
        ({"changed": ago(100, seconds=-121)}, "pass"),  # 121 s after: changed by its user
        ({}, "pass"),  # initial, never used (not yet handed over)
        ({"basis": "password_last_changed"}, "not_assessed"),  # GetLoginProfile not answered
    ],
)
def test_initial_password_sides(fields, expected):
    assert status(ConsolePasswordInitialUnchanged(), password(used=ago(1) if fields.get("changed") else None, **fields)) == expected


def test_initial_password_used_before_it_was_set_passes_and_unknown_use_is_not_assessed():
    assert status(ConsolePasswordInitialUnchanged(), password(used=ago(101))) == "pass"
    assert status(ConsolePasswordInitialUnchanged(), password(last_used_status="no_information")) == "not_assessed"
    assert status(ConsolePasswordInitialUnchanged(), password(used=ahead(2))) == "not_assessed"


def test_initial_password_population_excludes_disabled_and_keys():
    assert ConsolePasswordInitialUnchanged().applies(password())
    assert not ConsolePasswordInitialUnchanged().applies(key())
    assert not ConsolePasswordInitialUnchanged().applies(cred("console_password", enabled=False))


# ------------------------------------------------------------ console-password-no-reset-required


@pytest.mark.parametrize(
    "fields, expected",
    [
        ({"reset": True}, "pass"),
        ({"reset": False}, "fail"),
        ({"reset": False, "changed": ago(50)}, "pass"),  # its user replaced it (AWS clears the flag)
        ({"reset": None}, "not_assessed"),  # GetLoginProfile refused
        ({"reset": False, "basis": "password_last_changed"}, "not_assessed"),
    ],
)
def test_reset_required_sides(fields, expected):
    assert status(ConsolePasswordNoResetRequired(), password(**fields)) == expected


# ------------------------------------------------------------ sm-initial-version-not-rotated


def secret(*, age=31, versions=1, used=True, name="partner-api-key", **fields):
    fields.setdefault("created_at", ago(age))
    return cred(
        "sm_secret",
        name=name,
        last_used_at=ago(1) if used else None,
        attributes={"version_count": versions, "last_used_status": None if used else "never_used"},
        **fields,
    )


@pytest.mark.parametrize(
    "fields, expected",
    [
        ({"age": 31}, "fail"),
        ({"age": 30}, "pass"),  # at the limit
        ({"age": 400, "versions": 2}, "pass"),  # replaced
        ({"age": 400, "used": False}, "pass"),  # never accessed: not in use yet
        ({"age": 400, "versions": None}, "not_assessed"),
        ({"age": 400, "created_at": None}, "not_assessed"),
    ],
)
def test_handover_secret_sides(fields, expected):
    assert status(SecretInitialVersionNotRotated(), secret(**fields)) == expected


def test_handover_secret_rotated_passes_and_limit_is_the_policys():
    assert status(SecretInitialVersionNotRotated(), secret(age=400, last_rotated_at=ago(10))) == "pass"
    assert status(SecretInitialVersionNotRotated(), secret(age=31), ctx(handover_rotation_days=31)) == "pass"


def test_handover_population_is_the_policys_classes():
    rule = SecretInitialVersionNotRotated()
    assert secret().credential_class == "external-api"
    assert rule.applies_in(secret(), ctx())
    assert not rule.applies_in(secret(name="prod/db/password"), ctx())  # class database
    assert rule.applies_in(secret(name="prod/db/password"), ctx(handover_rotation_classes=["database"]))
    assert not rule.applies_in(secret(deleted_at=ago(1)), ctx())


# ------------------------------------------------------------ break-glass


def glass(**fields):
    tags = fields.pop("tags", {"break-glass": "true", "owner": "sec-team@example.com"})
    fields.setdefault("external_id", "arn:aws:iam::123456789012:user/bg-admin")
    return identity(name="bg-admin", tags=tags, owner=fields.pop("owner", ""), **fields)


@pytest.mark.parametrize("value, member", [("true", True), (" YES ", True), ("1", True), ("false", False), ("", False)])
def test_break_glass_population_from_the_policy_tag(value, member):
    person = glass(tags={"Break-Glass": value})
    assert BreakGlassMfa().applies_in(person, ctx()) is member
    assert BreakGlassMfa().applies_in(glass(tags={"emergency": "true"}), ctx(break_glass_tag_key="emergency"))
    assert not BreakGlassMfa().applies_in(glass(kind="root", external_id="arn:aws:iam::123456789012:root"), ctx())


@pytest.mark.parametrize(
    "mfa, devices, hardware_required, expected",
    [
        (True, [{"type": "hardware"}], True, "pass"),
        (True, [{"type": "virtual"}], True, "fail"),
        (True, [{"type": "virtual"}], False, "pass"),
        (False, [], False, "fail"),
        (None, [], True, "not_assessed"),
        (True, [], True, "not_assessed"),
    ],
)
def test_break_glass_mfa(mfa, devices, hardware_required, expected):
    person = glass(mfa_active=mfa, data={"mfa_devices": devices})
    assert status(BreakGlassMfa(), person, ctx(break_glass_require_hardware_mfa=hardware_required)) == expected


def test_break_glass_keys():
    person = glass(data={"attributes": {"access_keys_listed": True}})
    assert status(BreakGlassNoAccessKeys(), person) == "pass"
    key(user=person, enabled=False)
    verdict = BreakGlassNoAccessKeys().evaluate(person, ctx())
    assert verdict.status == "fail" and "inactive access key" in verdict.reason
    assert status(BreakGlassNoAccessKeys(), glass(data={"attributes": {"access_keys_listed": False}})) == "not_assessed"


@pytest.mark.parametrize("days, expected", [(90, "fail"), (91, "pass")])
def test_break_glass_use_window_both_sides(days, expected):
    person = glass()
    password(user=person, used=ago(days))
    assert status(BreakGlassUnused(), person) == expected


def test_break_glass_use_by_key_never_used_and_unknown():
    person = glass()
    key(user=person, last_used_at=ago(5))
    verdict = BreakGlassUnused().evaluate(person, ctx())
    assert verdict.status == "fail" and "explain" in verdict.reason
    assert status(BreakGlassUnused(), glass()) == "pass"
    unknown = glass()
    password(user=unknown, last_used_status="no_information")
    assert status(BreakGlassUnused(), unknown) == "not_assessed"
    assert status(BreakGlassUnused(), person, ctx(break_glass_use_window_days=4)) == "pass"
    future = glass()
    password(user=future, used=ahead(3))
    assert status(BreakGlassUnused(), future) == "not_assessed"


def test_break_glass_owner():
    assert status(BreakGlassOwner(), glass()) == "pass"
    assert status(BreakGlassOwner(), glass(owner="ops@example.com", tags={"break-glass": "yes"})) == "pass"
    assert status(BreakGlassOwner(), glass(tags={"break-glass": "yes"})) == "fail"


# ------------------------------------------------------------ single sign-on


def account(**facts):
    return source(iam_facts={"account_id": "123456789012", **facts})


def test_identity_center_states():
    rule = IdentityCenterNotUsed()
    assert (
        status(
            rule,
            account(
                identity_center={"status": "in_use", "regions": ["eu-west-1"], "instances": [{"arn": "arn:aws:sso:::instance/ssoins-1"}]}
            ),
        )
        == "pass"
    )
    assert status(rule, account(identity_center={"status": "not_in_use", "regions": ["eu-west-1"]})) == "fail"
    verdict = rule.evaluate(account(identity_center={"status": "unknown", "error": "AccessDeniedException: no sso:ListInstances"}), ctx())
    assert verdict.status == "not_assessed" and "sso:ListInstances" in verdict.reason
    assert status(rule, account()) == "not_assessed"  # collected before this check existed


@pytest.mark.parametrize(
    "humans, with_password, unknown, expected",
    [
        (100, 10, 0, "pass"),  # 10 % = the limit
        (100, 11, 0, "fail"),
        (100, 10, 1, "not_assessed"),  # the unknown one could tip it
        (0, 0, 0, "pass"),
    ],
)
def test_console_password_share_both_sides(humans, with_password, unknown, expected):
    facts = {"human_users": humans, "with_console_password": with_password, "password_state_unknown": unknown}
    assert status(ConsolePasswordUserShare(), account(console_access=facts)) == expected


def test_console_password_share_limit_and_bad_counts():
    facts = {"human_users": 100, "with_console_password": 11, "password_state_unknown": 0}
    assert status(ConsolePasswordUserShare(), account(console_access=facts), ctx(max_console_password_user_percent=11)) == "pass"
    assert status(ConsolePasswordUserShare(), account(console_access={**facts, "human_users": "many"})) == "not_assessed"
    assert status(ConsolePasswordUserShare(), account()) == "not_assessed"


def test_console_password_outside_sso():
    person, guard = identity(), glass()
    rule = ConsolePasswordOutsideSso()
    assert status(rule, password(user=person, identity_center="in_use")) == "fail"
    assert status(rule, password(user=guard, identity_center="in_use")) == "pass"
    assert status(rule, password(user=person, identity_center="not_in_use")) == "pass"
    assert status(rule, password(user=person, identity_center="unknown")) == "not_assessed"
    assert status(rule, password(user=person)) == "not_assessed"


# ------------------------------------------------------------ third parties


def vendor(expiry=None, **fields):
    tags = {"third-party": "true"}
    if expiry is not None:
        tags["expires"] = expiry
    return identity(name="acme-support", external_id="arn:aws:iam::123456789012:user/acme-support", tags=tags, **fields)


@pytest.mark.parametrize(
    "expiry, expected",
    [
        (None, "fail"),
        ("2026-10-31", "fail"),  # passed (NOW is 2026-11-01 12:00)
        ("2026-11-01T12:00:01Z", "pass"),
        ("2027-03-31", "pass"),
        ("next spring", "fail"),
    ],
)
def test_third_party_expiry(expiry, expected):
    assert status(ThirdPartyUserNoExpiry(), vendor(expiry)) == expected


def test_third_party_population():
    assert ThirdPartyUserNoExpiry().applies_in(vendor(), ctx())
    assert not ThirdPartyUserNoExpiry().applies_in(identity(), ctx())
    assert ThirdPartyKeyAge().applies_in(key(user=vendor()), ctx())
    assert not ThirdPartyKeyAge().applies_in(key(user=identity()), ctx())


@pytest.mark.parametrize("age, expected", [(90, "pass"), (91, "fail")])
def test_third_party_key_age_both_sides(age, expected):
    verdict = ThirdPartyKeyAge().evaluate(key(user=vendor(), created_at=ago(age)), ctx())
    assert verdict.status == expected and verdict.data["limit_days"] == 90


def test_third_party_key_limit_is_the_class_limit_and_unknown_creation():
    assert (
        status(ThirdPartyKeyAge(), key(user=vendor(), created_at=ago(91)), ctx(rotation_days={"default": 90, "third-party": 91})) == "pass"
    )
    assert status(ThirdPartyKeyAge(), key(user=vendor(), created_at=None, last_rotated_at=None)) == "not_assessed"


def test_roles_trusted_without_external_id():
    rule = RoleExternalTrustNoExternalId()
    guarded = {"name": "vendor-audit", "external_id_required": True}
    open_role = {"name": "vendor-deploy", "external_id_required": False}
    verdict = rule.evaluate(account(external_trust={"roles_checked": 5, "roles": [guarded, open_role], "unreadable_count": 0}), ctx())
    assert verdict.status == "fail" and "vendor-deploy" in verdict.reason and "vendor-audit" not in verdict.reason
    assert status(rule, account(external_trust={"roles_checked": 5, "roles": [guarded], "unreadable_count": 0})) == "pass"
    assert status(rule, account(external_trust={"roles_checked": 5, "roles": [guarded], "unreadable_count": 1})) == "not_assessed"
    assert status(rule, account()) == "not_assessed"


# ------------------------------------------------------------ hostile values


@pytest.mark.hostile
@pytest.mark.parametrize("value", SHORT_TEXT.values(), ids=SHORT_TEXT.keys())
def test_hostile_tag_values_give_clear_verdicts(value):
    verdicts = [
        ThirdPartyUserNoExpiry().evaluate(vendor(value), ctx()),
        BreakGlassOwner().evaluate(glass(tags={"break-glass": "true", "owner": value}), ctx()),
        RoleExternalTrustNoExternalId().evaluate(
            account(external_trust={"roles": [{"name": value, "external_id_required": False}]}), ctx()
        ),
    ]
    for verdict in verdicts:
        assert verdict.status in {"pass", "fail"} and verdict.reason
        assert len(verdict.reason) < 400
        json.dumps(verdict.data)
    assert BreakGlassMfa().applies_in(glass(tags={"break-glass": value}), ctx()) is (value.strip().lower() in {"true", "yes", "1"})


def test_the_engine_counts_only_the_population_the_policy_decides():
    from apps.evaluation.engine import run_rules
    from apps.evaluation.exceptions import no_exceptions
    from tests.evaluation.rules.facts import NOW

    people = [glass(mfa_active=True, data={"mfa_devices": [{"type": "virtual"}]}), identity(), vendor()]
    result = run_rules(
        rules=[BreakGlassMfa(), ThirdPartyUserNoExpiry()], subjects={"identity": people}, ctx=ctx(), matcher=no_exceptions(NOW)
    )
    assert result.tallies["break-glass-mfa"].population == 1 and result.tallies["break-glass-mfa"].failed == 1
    assert result.tallies["third-party-user-no-expiry"].population == 1
