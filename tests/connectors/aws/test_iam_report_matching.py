"""Access keys matched to a credential report that may be hours old (issue #16).

AWS serves a cached credential report (up to 4 hours old); moto builds it afresh on every
``GetCredentialReport``. ``cached_report`` makes moto's server behave like AWS: the report
is captured when the test says "generated" and served unchanged afterwards, over HTTP as
usual, while the account moves on (keys deleted, created). The staleness is simulated in
moto's backend because no API can make moto cache its report.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from moto.iam.models import AccessKeyLastUsed, IAMBackend

from apps.connectors.aws.iam import IamConnector, ListedKey, ReportKey, match_keys
from apps.connectors.kinds import CredentialKind
from apps.evaluation.rules.access_keys import KeyUnused
from tests.evaluation.rules.facts import ctx, key
from tests.support.aws import ACCOUNT_A

NOW = datetime.now(UTC).replace(microsecond=0)
MOTO_GENERATED = "2015-02-02T20:02:02+00:00"  # moto's fixed GeneratedTime: data like any other


@pytest.fixture
def cached_report(monkeypatch):
    """``generate(iam, backend)`` has moto generate its report and freezes moto's report as it stands; later reads get that copy."""
    original = IAMBackend.get_credential_report
    frozen: dict[str, str] = {}

    def served(self):
        return frozen.get("csv") or original(self)

    monkeypatch.setattr(IAMBackend, "get_credential_report", served)

    class Report:
        @staticmethod
        def generate(iam, backend) -> None:
            iam.generate_credential_report()  # over HTTP, as the connector does
            frozen["csv"] = original(backend)

    return Report


def access_keys(result, user: str) -> list:
    arn = f"arn:aws:iam::{ACCOUNT_A}:user/{user}"
    return [c for c in result.credentials if c.credential_type == CredentialKind.ACCESS_KEY and c.identity_external_id == arn]


def test_replaced_key_does_not_inherit_the_deleted_keys_last_use(iam, backend_a, cached_report, target_a):
    iam.create_user(UserName="rotator")
    old_id = iam.create_access_key(UserName="rotator")["AccessKey"]["AccessKeyId"]
    iam.create_user(UserName="steady")
    iam.create_access_key(UserName="steady")
    rotator, steady = backend_a.users["rotator"], backend_a.users["steady"]
    rotator.access_keys[0].create_date = NOW - timedelta(days=120)
    rotator.access_keys[0].last_used = AccessKeyLastUsed(NOW - timedelta(days=50), "s3", "eu-west-1")
    steady.access_keys[0].create_date = NOW - timedelta(days=30)
    steady.access_keys[0].last_used = AccessKeyLastUsed(NOW - timedelta(days=2), "ec2", "us-east-1")
    cached_report.generate(iam, backend_a)

    # After the report: key 1 deleted and replaced by a key never used.
    iam.delete_access_key(UserName="rotator", AccessKeyId=old_id)
    new_id = iam.create_access_key(UserName="rotator")["AccessKey"]["AccessKeyId"]
    rotator.access_keys[0].create_date = NOW - timedelta(hours=1)

    result = IamConnector().collect(target_a)

    assert result.errors == []
    (new,) = access_keys(result, "rotator")
    assert new.external_id == new_id
    assert new.last_used_at is None  # not the deleted key's "50 days ago"
    assert new.attributes["slot"] is None and new.attributes["slot_match"] == "not_in_report"
    assert new.attributes["last_used_source"] == "GetAccessKeyLastUsed"
    assert new.attributes["last_used_status"] == "none_recorded"
    assert new.attributes["last_used_service"] is None
    (kept,) = access_keys(result, "steady")
    assert kept.last_used_at == NOW - timedelta(days=2)
    assert kept.attributes["last_used_source"] == "credential_report" and kept.attributes["slot_match"] == "create_date"
    # One GetAccessKeyLastUsed, for the one key no slot describes; none for the matched key.
    assert result.api_calls["GetAccessKeyLastUsed"] == 1
    # The report's generation time is the as-of of what came from it (moto's fixed date is data).
    assert kept.attributes["report_generated_at"] == MOTO_GENERATED
    assert new.attributes["report_generated_at"] == MOTO_GENERATED
    assert result.facts["credential_report_generated_at"] == datetime.fromisoformat(MOTO_GENERATED)

    # The rule that used to fail ("last used 50 days ago") now judges a new, unused key.
    facts = key(external_id=new.external_id, created_at=new.created_at, last_used_at=new.last_used_at, attributes=new.attributes)
    verdict = KeyUnused().evaluate(facts, ctx(now=datetime.now(UTC)))
    assert verdict.status == "pass", verdict.reason
    assert verdict.data["never_used"] is True


def test_new_key_that_was_used_since_the_report_gets_its_use_from_aws(iam, backend_a, cached_report, target_a):
    iam.create_user(UserName="rotator")
    old_id = iam.create_access_key(UserName="rotator")["AccessKey"]["AccessKeyId"]
    backend_a.users["rotator"].access_keys[0].create_date = NOW - timedelta(days=120)
    backend_a.users["rotator"].access_keys[0].last_used = AccessKeyLastUsed(NOW - timedelta(days=50), "s3", "eu-west-1")
    cached_report.generate(iam, backend_a)
    iam.delete_access_key(UserName="rotator", AccessKeyId=old_id)
    iam.create_access_key(UserName="rotator")
    fresh = backend_a.users["rotator"].access_keys[0]
    fresh.last_used = AccessKeyLastUsed(NOW - timedelta(minutes=10), "sts", "us-east-1")

    result = IamConnector().collect(target_a)

    (new,) = access_keys(result, "rotator")
    assert new.last_used_at == NOW - timedelta(minutes=10)
    assert new.attributes["last_used_service"] == "sts" and new.attributes["last_used_status"] == "used"
    assert new.attributes["last_used_source"] == "GetAccessKeyLastUsed"
    assert result.api_calls["GetAccessKeyLastUsed"] == 1


def test_two_keys_whose_slots_are_in_the_other_order_are_matched_by_creation_time(iam, backend_a, cached_report, target_a):
    iam.create_user(UserName="pair")
    first = iam.create_access_key(UserName="pair")["AccessKey"]["AccessKeyId"]
    second = iam.create_access_key(UserName="pair")["AccessKey"]["AccessKeyId"]
    keys = backend_a.users["pair"].access_keys
    # Slot 1 of the report is the *newer* key: position says nothing about age.
    keys[0].create_date = NOW - timedelta(days=5)
    keys[0].last_used = AccessKeyLastUsed(NOW - timedelta(days=1), "s3", "eu-west-1")
    keys[1].create_date = NOW - timedelta(days=300)
    keys[1].last_used = AccessKeyLastUsed(NOW - timedelta(days=200), "ec2", "us-east-1")
    cached_report.generate(iam, backend_a)

    result = IamConnector().collect(target_a)

    got = {c.external_id: c for c in access_keys(result, "pair")}
    assert got[first].attributes["slot"] == 1 and got[first].last_used_at == NOW - timedelta(days=1)
    assert got[second].attributes["slot"] == 2 and got[second].last_used_at == NOW - timedelta(days=200)
    assert {c.attributes["slot_match"] for c in got.values()} == {"create_date"}
    assert result.api_calls["GetAccessKeyLastUsed"] == 0


def test_both_keys_replaced_after_the_report(iam, backend_a, cached_report, target_a):
    iam.create_user(UserName="both")
    ids = [iam.create_access_key(UserName="both")["AccessKey"]["AccessKeyId"] for _ in range(2)]
    for i, k in enumerate(backend_a.users["both"].access_keys):
        k.create_date = NOW - timedelta(days=100 + i)
        k.last_used = AccessKeyLastUsed(NOW - timedelta(days=60), "s3", "eu-west-1")
    cached_report.generate(iam, backend_a)
    for key_id in ids:
        iam.delete_access_key(UserName="both", AccessKeyId=key_id)
    iam.create_access_key(UserName="both")
    iam.create_access_key(UserName="both")

    result = IamConnector().collect(target_a)

    new = access_keys(result, "both")
    assert len(new) == 2 and all(c.last_used_at is None for c in new)
    assert {c.attributes["last_used_source"] for c in new} == {"GetAccessKeyLastUsed"}
    assert result.api_calls["GetAccessKeyLastUsed"] == 2


def test_match_keys_allows_for_precision_and_ignores_slots_of_deleted_keys():
    t = datetime(2024, 3, 1, 8, 0, 0, tzinfo=UTC)
    # ListAccessKeys with fractions, the report rounded up to the next second.
    listed = [ListedKey("LIVE", "Active", t.replace(microsecond=700000))]
    slots = [ReportKey(1, True, t + timedelta(seconds=1), t, "eu-west-1", "s3")]
    [(live, slot, basis)] = match_keys(listed, slots)
    assert live.access_key_id == "LIVE" and slot is slots[0] and basis == "create_date"

    # A slot of a deleted key (no live key created then) is ignored; the live key has no slot.
    deleted = ReportKey(1, True, t - timedelta(days=90), t - timedelta(days=50), "eu-west-1", "s3")
    [(key_, slot, basis)] = match_keys([ListedKey("NEW", "Active", t)], [deleted])
    assert slot is None and basis == "not_in_report"

    # A slot without a readable date is never paired by position.
    undated = ReportKey(1, True, None, t, None, None)
    assert match_keys([ListedKey("K", "Active", t)], [undated])[0][1] is None
