"""Rules for 9.2.4.07 (who may read secrets) and 9.2.4.18 (CloudTrail): both sides of every
limit, the population, and the not-assessed paths."""

import pytest

from apps.connectors.aws.secret_policies import policy_attribute
from apps.evaluation.policy import PolicyError, policy_from_dict
from apps.evaluation.rules.cloudtrail import CloudTrailMultiRegion
from apps.evaluation.rules.secret_access import BroadSecretReaders, SecretResourcePolicyBroadRead
from tests.evaluation.rules.facts import ago, cred, ctx, source

OWN, OTHER, PARTNER = "123456789012", "999999999999", "555555555555"


def secret(policy, **fields):
    attributes = {} if policy is ... else {"resource_policy": policy}
    return cred("sm_secret", attributes=attributes, **fields)


def grant(principal, condition=None):
    statement = {"Sid": "s1", "Effect": "Allow", "Principal": principal, "Action": "secretsmanager:GetSecretValue", "Resource": "*"}
    if condition:
        statement["Condition"] = condition
    return policy_attribute({"Statement": [statement]})


# --------------------------------------------------------------- sm-resource-policy-broad-read

RULE = SecretResourcePolicyBroadRead()


def test_population_is_live_secrets_only():
    assert RULE.applies(secret(None))
    assert not RULE.applies(secret(None, deleted_at=ago(1)))
    assert not RULE.applies(cred("kv_secret"))
    assert not RULE.applies(cred("access_key"))


@pytest.mark.parametrize(
    ("policy", "status", "words"),
    [
        (policy_attribute(None), "pass", "no resource policy"),
        (grant({"AWS": f"arn:aws:iam::{OWN}:role/app"}), "pass", "only its own"),
        (grant({"AWS": "*"}, {"StringEquals": {"aws:PrincipalOrgID": "o-1"}}), "pass", "only its own"),
        (grant({"Service": "lambda.amazonaws.com"}), "pass", "only its own"),
        (
            policy_attribute({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "secretsmanager:DescribeSecret"}]}),
            "pass",
            "no one",
        ),
        (grant("*"), "fail", "lets anyone read it"),
        (grant({"AWS": "*"}, {"StringEqualsIfExists": {"aws:PrincipalOrgID": "o-1"}}), "fail", "lets anyone"),
        (grant({"AWS": f"arn:aws:iam::{OTHER}:root"}), "fail", f"account(s) {OTHER}"),
        (grant({"AWS": "*"}, {"StringEquals": {"aws:PrincipalAccount": [OWN, OTHER]}}), "fail", f"account(s) {OTHER}"),
        (grant({"Federated": "accounts.google.com"}), "fail", "federated"),
        (policy_attribute("{broken"), "not_assessed", "not JSON"),
        ({"status": "error", "error": "AccessDeniedException"}, "not_assessed", "AccessDenied"),
        (..., "not_assessed", "not been collected"),
        ("junk", "not_assessed", "not been collected"),
    ],
)
def test_resource_policy_verdicts(policy, status, words):
    verdict = RULE.evaluate(secret(policy), ctx())
    assert verdict.status == status and words in verdict.reason, verdict.reason


def test_trusted_accounts_in_the_policy_may_read():
    s = secret(grant({"AWS": PARTNER}))
    assert RULE.evaluate(s, ctx()).status == "fail"
    assert RULE.evaluate(s, ctx(secret_read_trusted_accounts=[PARTNER])).status == "pass"
    assert RULE.evaluate(s, ctx(secret_read_trusted_accounts=[OTHER])).status == "fail"


def test_hostile_sid_is_data_not_markup():
    policy = policy_attribute({"Statement": [{"Sid": "=HYPERLINK(1)<script>", "Effect": "Allow", "Principal": "*", "Action": "*"}]})
    verdict = RULE.evaluate(secret(policy), ctx())
    assert verdict.status == "fail" and "=HYPERLINK(1)<script>" in verdict.reason


# --------------------------------------------------------------- iam-broad-secret-read

READERS = BroadSecretReaders()


def reader(name, kind="role"):
    return {"arn": f"arn:aws:iam::{OWN}:{kind}/{name}", "name": name, "type": kind, "via": ["inline:all"], "actions": ["ssm:getparameter"]}


def account(fact=..., **facts):
    iam_facts = {"account_id": OWN, **facts}
    if fact is not ...:
        iam_facts["secret_readers"] = fact
    return source(iam_facts=iam_facts)


def readers_fact(readers, *, undetermined=(), total=None):
    return {
        "status": "read",
        "readers": readers,
        "readers_total": len(readers) if total is None else total,
        "undetermined": list(undetermined),
        "undetermined_total": len(undetermined),
        "principals_judged": 10,
    }


def test_population_is_collected_aws_accounts():
    assert READERS.applies(account(readers_fact([])))
    assert not READERS.applies(source(iam_facts=None))
    assert not READERS.applies(source(kind="azure_key_vault", iam_facts={}))


def test_limit_both_sides():
    two = account(readers_fact([reader("a"), reader("b", "user")]))
    assert READERS.evaluate(two, ctx()).status == "fail"  # limit 0
    assert READERS.evaluate(two, ctx(broad_secret_readers_max=1)).status == "fail"
    verdict = READERS.evaluate(two, ctx(broad_secret_readers_max=2))
    assert verdict.status == "pass" and verdict.data["broad_readers"] == 2
    assert READERS.evaluate(account(readers_fact([])), ctx()).status == "pass"


def test_fail_names_the_identities_and_how():
    verdict = READERS.evaluate(account(readers_fact([reader("deploy")])), ctx())
    assert verdict.status == "fail" and "role deploy (via inline:all)" in verdict.reason and "limit 0" in verdict.reason


def test_exempt_patterns_are_left_out():
    fact = readers_fact([reader("break-glass"), reader("app")])
    verdict = READERS.evaluate(account(fact), ctx(broad_secret_reader_exempt=["*:role/break-glass"], broad_secret_readers_max=1))
    assert verdict.status == "pass" and verdict.data["exempted"] == 1
    assert READERS.evaluate(account(fact), ctx(broad_secret_reader_exempt=["*:role/other"], broad_secret_readers_max=1)).status == "fail"


def test_readers_beyond_what_the_fact_keeps_still_count():
    verdict = READERS.evaluate(account(readers_fact([reader("a")], total=500)), ctx(broad_secret_readers_max=100))
    assert verdict.status == "fail" and verdict.data["broad_readers"] == 500


def test_undetermined_identities_that_could_exceed_the_limit_are_not_assessed():
    fact = readers_fact([], undetermined=[f"arn:aws:iam::{OWN}:user/odd"])
    verdict = READERS.evaluate(account(fact), ctx())
    assert verdict.status == "not_assessed" and "user/odd" in verdict.reason
    assert READERS.evaluate(account(fact), ctx(broad_secret_readers_max=1)).status == "pass"


@pytest.mark.parametrize("fact", [..., {"status": "unknown", "error": "the account's roles could not be read"}, "junk"])
def test_not_collected_or_unreadable_is_not_assessed(fact):
    assert READERS.evaluate(account(fact), ctx()).status == "not_assessed"


def test_policy_bounds():
    for bad in (
        {"broad_secret_readers_max": -1},
        {"broad_secret_readers_max": 10001},
        {"broad_secret_readers_max": True},
        {"secret_read_trusted_accounts": ["12345"]},
        {"secret_read_trusted_accounts": "123456789012"},
        {"broad_secret_reader_exempt": [""]},
        {"broad_secret_reader_exempt": ["*"] * 201},
        {"cloudtrail_require_log_file_validation": "yes"},
    ):
        with pytest.raises(PolicyError):
            policy_from_dict(bad)
    ok = policy_from_dict({"broad_secret_readers_max": 10000, "secret_read_trusted_accounts": [PARTNER, PARTNER]})
    assert ok.secret_read_trusted_accounts == (PARTNER,) and policy_from_dict(ok.as_dict()) == ok


# --------------------------------------------------------------- cloudtrail-multi-region-trail

TRAIL_RULE = CloudTrailMultiRegion()


def trail(name="main", **fields):
    values = {
        "arn": f"arn:aws:cloudtrail:eu-west-1:{OWN}:trail/{name}",
        "name": name,
        "home_region": "eu-west-1",
        "multi_region": True,
        "organization": False,
        "log_file_validation": True,
        "logging": True,
        "management_events": "all",
    }
    values.update(fields)
    return values


def trails_account(*trails, status="read"):
    return source(iam_facts={"account_id": OWN, "cloudtrail": {"status": status, "region": "us-east-1", "trails": list(trails)}})


def test_a_qualifying_trail_passes():
    verdict = TRAIL_RULE.evaluate(trails_account(trail("single", multi_region=False), trail()), ctx())
    assert verdict.status == "pass" and "main" in verdict.reason


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"multi_region": False}, "not multi-region"),
        ({"logging": False}, "logging is off"),
        ({"log_file_validation": False}, "log-file validation is off"),
        ({"management_events": "write_only"}, "write only"),
        ({"management_events": "none"}, "recorded: none"),
    ],
)
def test_each_missing_property_fails(fields, words):
    verdict = TRAIL_RULE.evaluate(trails_account(trail(**fields)), ctx())
    assert verdict.status == "fail" and words in verdict.reason


def test_log_file_validation_follows_the_policy():
    account_ = trails_account(trail(log_file_validation=False))
    assert TRAIL_RULE.evaluate(account_, ctx()).status == "fail"
    assert TRAIL_RULE.evaluate(account_, ctx(cloudtrail_require_log_file_validation=False)).status == "pass"


def test_no_trail_fails():
    verdict = TRAIL_RULE.evaluate(trails_account(), ctx())
    assert verdict.status == "fail" and "no CloudTrail trail" in verdict.reason


def test_unknown_status_is_not_assessed_unless_another_trail_has_a_known_gap_only():
    assert TRAIL_RULE.evaluate(trails_account(trail(logging=None)), ctx()).status == "not_assessed"
    # Unknown and a known gap on the same trail: it cannot qualify.
    verdict = TRAIL_RULE.evaluate(trails_account(trail(logging=None, multi_region=False)), ctx())
    assert verdict.status == "fail" and "not multi-region" in verdict.reason and "unknown" not in verdict.reason


def test_denied_listing_or_missing_fact_is_not_assessed():
    denied = source(iam_facts={"account_id": OWN, "cloudtrail": {"status": "unknown", "error": "AccessDenied (HTTP 400)"}})
    verdict = TRAIL_RULE.evaluate(denied, ctx())
    assert verdict.status == "not_assessed" and "AccessDenied" in verdict.reason
    assert TRAIL_RULE.evaluate(source(iam_facts={"account_id": OWN}), ctx()).status == "not_assessed"
    assert not TRAIL_RULE.applies(source(iam_facts=None))
