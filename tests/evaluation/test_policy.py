import pytest

from apps.evaluation.policy import DEFAULT_POLICY, PolicyError, default_policy, policy_from_dict


def test_defaults_are_the_guidance_numbers():
    p = default_policy()
    assert p.rotation_limit("iam-user-key") == 90 and p.rotation_limit("database") == 60
    assert p.rotation_limit("external-api") == 180 and p.rotation_limit("service-account") == 90
    assert p.rotation_limit("certificate") == 365 and p.unused_days == 45
    assert policy_from_dict(p.as_dict()) == p  # round-trips


@pytest.mark.parametrize(
    "change, message",
    [
        ({"unused_days": -1}, "unused_days: -1 is outside"),
        ({"unused_days": "45"}, "expected a whole number"),
        ({"unused_days": True}, "expected a whole number"),
        ({"rotation_days": {"database": 60}}, "with a 'default'"),
        ({"rotation_days": {"default": 90, "martian": 5}}, "unknown credential class"),
        ({"rotation_days": {"default": 0}}, "default: 0 is outside"),
        ({"kv_expiry_warning_days": 400, "kv_max_validity_days": 365}, "must be below"),
        ({"owner_tag_keys": []}, "non-empty list"),
        ({"classification": [{"class": "database"}]}, "either tag_key"),
        ({"classification": [{"class": "nope", "name_pattern": "*"}]}, "'class' must be one of"),
        ({"coverage_grace_factor": 0.5}, "from 1 to 10"),
        ({"surprise": 1}, "unknown policy fields"),
        ({"password_require_symbols": "yes"}, "true or false"),
    ],
)
def test_impossible_values_are_refused_naming_the_field(change, message):
    with pytest.raises(PolicyError, match=message):
        policy_from_dict({**DEFAULT_POLICY, **change})


def test_classification_by_tag_then_name():
    p = default_policy()
    assert p.classify("access_key", "anything", {}) == "iam-user-key"
    assert p.classify("sm_secret", "prod/db/main", {}) == "database"
    assert p.classify("sm_secret", "prod/db/main", {"Class": "Certificate"}) == "certificate"  # tags win, case-insensitive
    assert p.classify("kv_secret", "misc", {"class": "=cmd|' /C calc'!A0"}) == "default"
