import pytest

from apps.evaluation.rules.ownership import OwnerTagMissing, RequestReferenceMissing
from tests.evaluation.rules.facts import cred, ctx, identity, key

HOSTILE = ["=cmd|' /C calc'!A0", "<script>alert(1)</script>", "+SUM(1,1)", "@evil", "\u202eevil", "x" * 5000]

# ---------------------------------------------------------------- owner-tag-missing


def test_owner_tag_population():
    rule = OwnerTagMissing()
    assert rule.applies(cred("sm_secret")) and rule.applies(cred("kv_secret"))
    assert rule.applies(key(user=identity(kind="service")))
    assert rule.applies(cred("console_password", identity=identity(kind="service")))
    assert not rule.applies(key(user=identity(kind="human")))
    assert not rule.applies(key())  # identity unknown
    assert not rule.applies(cred("root_access_key", identity=identity(kind="root")))


@pytest.mark.parametrize("kind", ["sm_secret", "kv_secret"])
def test_secret_without_owner_fails(kind):
    verdict = OwnerTagMissing().evaluate(cred(kind, tags={"env": "prod"}), ctx())
    assert verdict.status == "fail" and verdict.data["found"] is False
    assert verdict.reason.endswith("has no owner tag on the credential (looked for owner, owner-email, ownerEmail, contact)")


def test_secret_reason_names_the_secret():
    verdict = OwnerTagMissing().evaluate(cred("sm_secret", name="prod/db/main"), ctx())
    assert verdict.reason.startswith("Secrets Manager secret prod/db/main has no owner tag")


@pytest.mark.parametrize("tags", [{"owner": "team@example.com"}, {"Owner": "x"}, {"OWNEREMAIL": "x"}, {"contact": " ops "}])
def test_any_configured_owner_key_counts_case_insensitively(tags):
    assert OwnerTagMissing().evaluate(cred("sm_secret", tags=tags), ctx()).status == "pass"


@pytest.mark.parametrize("value", ["", "   ", "\t"])
def test_blank_owner_values_do_not_count(value):
    assert OwnerTagMissing().evaluate(cred("kv_secret", tags={"owner": value}), ctx()).status == "fail"


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_owner_values_count_as_present_and_do_not_crash(value):
    verdict = OwnerTagMissing().evaluate(cred("kv_secret", tags={"owner": value, "<script>": value}), ctx())
    assert verdict.status == "pass" and verdict.data["found"] is True
    assert len(verdict.data["value"]) <= 200


def test_service_user_credentials_may_take_the_owner_from_the_user():
    bot = identity(kind="service", name="ci-bot", tags={"owner": "platform@example.com"})
    verdict = OwnerTagMissing().evaluate(key(user=bot), ctx())
    assert verdict.status == "pass" and verdict.data["found_on"] == "identity"
    nobody = identity(kind="service", name="ci-bot")
    verdict = OwnerTagMissing().evaluate(key(user=nobody), ctx())
    assert verdict.status == "fail"
    assert verdict.reason == (
        "active access key AKIA…MPLE of ci-bot has no owner tag on the credential or its user "
        "(looked for owner, owner-email, ownerEmail, contact)"
    )


def test_owner_keys_follow_the_policy():
    c = cred("sm_secret", tags={"team-lead": "ann"})
    assert OwnerTagMissing().evaluate(c, ctx()).status == "fail"
    assert OwnerTagMissing().evaluate(c, ctx(owner_tag_keys=["team-lead"])).status == "pass"


def test_unreadable_tags_are_not_assessed():
    c = cred("kv_secret", attributes={"malformed_fields": ["tags"]})
    assert OwnerTagMissing().evaluate(c, ctx()).status == "not_assessed"


# ---------------------------------------------------------------- request-reference-missing


def test_request_reference_population():
    rule = RequestReferenceMissing()
    assert rule.applies(key()) and rule.applies(key(enabled=False))
    assert rule.applies(cred("sm_secret")) and rule.applies(cred("kv_secret"))
    assert not rule.applies(cred("console_password")) and not rule.applies(cred("root_access_key"))


def test_request_reference_on_the_secret_or_the_keys_user():
    assert RequestReferenceMissing().evaluate(cred("sm_secret", tags={"ticket": "CHG-1"}), ctx()).status == "pass"
    assert RequestReferenceMissing().evaluate(cred("sm_secret", tags={"owner": "x"}), ctx()).status == "fail"
    user = identity(tags={"request-ref": "REQ-42"})
    assert RequestReferenceMissing().evaluate(key(user=user), ctx()).status == "pass"
    verdict = RequestReferenceMissing().evaluate(key(user=identity()), ctx())
    assert verdict.status == "fail"
    assert verdict.reason.endswith(
        "no request reference tag on the credential or its user (looked for request-ref, request, ticket, change-ref)"
    )


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_request_values_count_as_present(value):
    assert RequestReferenceMissing().evaluate(cred("kv_secret", tags={"Request": value}), ctx()).status == "pass"
