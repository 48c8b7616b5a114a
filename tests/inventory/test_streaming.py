"""Streaming collection (ADR 0014): batches applied as they come give exactly the rows one list
gives, the set-based repeat diff finds every kind of change, and a stream that fails half way
loses nothing.

Runs on PostgreSQL (COPY into the temporary table) and on SQLite, the demo's database
(executemany): ``DATABASE_URL=sqlite:////tmp/kt.sqlite3 pytest tests/inventory/test_streaming.py``.
"""

import datetime as dt
import json

import pytest
from django.db import transaction

from apps.connectors import registry
from apps.connectors.base import Batch, CollectionResult, ConnectorError, CredentialRecord, IdentityRecord, Target
from apps.inventory.models import Credential, CredentialEvent, CredentialVersion, Identity, IdentityVersion, Snapshot
from apps.inventory.services.apply import inventory_apply
from apps.inventory.services.collection import RetryLater, collection_unit_execute
from tests.factories import CollectionRunFactory, CollectionUnitFactory
from tests.inventory import scripted

pytestmark = pytest.mark.django_db

T1 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
T2 = T1 + dt.timedelta(days=1)
T3 = T1 + dt.timedelta(days=2)
ACCT = "arn:aws:iam::123456789012"


def _user(name, **kw):
    return IdentityRecord(f"{ACCT}:user/{name}", name, "human", tags={"owner": f"{name}@example.test"}, **kw)


def _key(key_id, user, **kw):
    kw.setdefault("enabled", True)
    kw.setdefault("created_at", T1)
    return CredentialRecord(key_id, "access_key", key_id, identity_external_id=f"{ACCT}:user/{user}", **kw)


def _secret(suffix, name):
    return CredentialRecord(f"arn:aws:secretsmanager:eu-west-1:123456789012:secret:{name}-{suffix}", "sm_secret", name, created_at=T1)


def _round(n: int) -> list[tuple[IdentityRecord, list[CredentialRecord]]]:
    """The estate at collection ``n`` (1, 2, 3), user by user as IAM hands it on."""
    carol = (
        _user("carol"),
        [CredentialRecord(f"{ACCT}:user/carol", "console_password", "carol", identity_external_id=f"{ACCT}:user/carol")],
    )
    if n == 1:
        return [
            (_user("alice"), [_key("AKIAKEEP", "alice"), _key("AKIADIS", "alice"), _key("AKIAMOVE", "alice"), _key("AKIAGONE", "alice")]),
            (_user("bob"), [_key("AKIATAG", "bob", tags={"team": "a"}), _key("AKIAROT", "bob"), _key("AKIAUSED", "bob")]),
            carol,
            (IdentityRecord(f"{ACCT}:root", "root", "root"), [_secret("AAAAAA", "db"), _secret("CCCCCC", "api")]),
        ]
    users = [
        (
            _user("alice"),
            [_key("AKIAKEEP", "alice"), _key("AKIADIS", "alice", enabled=False), _key("AKIANEW", "alice")]
            + ([_key("AKIAGONE", "alice")] if n == 3 else []),
        ),
        (
            _user("bob"),
            [
                _key("AKIATAG", "bob", tags={"team": "b"}),
                _key("AKIAROT", "bob", last_rotated_at=T2),
                _key("AKIAUSED", "bob", last_used_at=T2),
                _key("AKIAMOVE", "bob"),  # the same key, now bob's
            ],
        ),
        (IdentityRecord(f"{ACCT}:root", "root", "root"), [_secret("BBBBBB", "db"), _secret("CCCCCC", "api")]),  # db re-created
    ]
    return users + ([carol] if n == 3 else [])


def _list_result(n):
    users = _round(n)
    return CollectionResult(
        target=Target(kind="aws_iam", source_key="123456789012"),
        identities=[u for u, _ in users],
        credentials=[c for _, creds in users for c in creds],
        facts={"round": n},
    )


def _stream_result(n):
    result = CollectionResult(target=Target(kind="aws_iam", source_key="123456789012"))

    def stream():
        for user, creds in _round(n):
            yield Batch(identities=[user], credentials=creds)
        result.facts = {"round": n}

    result.stream = stream()
    return result


def _apply(source, result, at, *, batch_records=2000, scope="aws_iam"):
    run = CollectionRunFactory(status="pending", started_at=None, finished_at=None)
    unit = CollectionUnitFactory(run=run, source=source, scope=scope)
    with transaction.atomic():
        return inventory_apply(unit=unit, result=result, taken_at=at, batch_records=batch_records)


def _dump(source) -> dict[str, list[str]]:
    """Every row the apply writes for ``source``, with database ids replaced by natural keys."""
    idents = dict(Identity.objects.filter(source=source).values_list("pk", "external_id"))
    creds = {pk: f"{t}/{e}" for pk, t, e in Credential.objects.filter(source=source).values_list("pk", "credential_type", "external_id")}
    snaps = dict(Snapshot.objects.filter(source=source).values_list("pk", "taken_at"))

    def rows(qs, **fks):
        out = []
        for row in qs.values():
            row.pop("id")
            row.pop("source_id", None)
            row.pop("unit_id", None)
            for column, mapping in fks.items():
                row[column] = mapping.get(row[column])
            out.append(json.dumps(row, sort_keys=True, default=str))
        return sorted(out)

    return {
        "snapshots": rows(Snapshot.objects.filter(source=source)),
        "identities": rows(Identity.objects.filter(source=source)),
        "identity_versions": rows(IdentityVersion.objects.filter(identity__source=source), identity_id=idents, first_snapshot_id=snaps),
        "credentials": rows(Credential.objects.filter(source=source), identity_id=idents),
        "credential_versions": rows(
            CredentialVersion.objects.filter(credential__source=source), credential_id=creds, first_snapshot_id=snaps
        ),
        "events": rows(CredentialEvent.objects.filter(credential__source=source), credential_id=creds, snapshot_id=snaps),
    }


@pytest.fixture
def second_source(grc_lead):
    from apps.inventory.models import Source
    from apps.inventory.services.sources import source_create

    return source_create(
        actor=grc_lead, name="prod-b", kind=Source.Kind.AWS_ACCOUNT, role_arn="arn:aws:iam::210987654321:role/keytrail-audit", regions=[]
    )


def test_streamed_batches_write_exactly_the_rows_one_list_writes(aws_source, second_source):
    counts = {}
    for n, at in ((1, T1), (2, T2), (3, T3)):
        _, listed = _apply(aws_source, _list_result(n), at)
        _, streamed = _apply(second_source, _stream_result(n), at, batch_records=2)
        assert listed.as_dict() == streamed.as_dict()
        counts[n] = listed
        assert _dump(aws_source) == _dump(second_source)
    assert counts[1].created == 10 and counts[1].identities == 4
    assert counts[2].unchanged == 2 and counts[2].created == 2 and counts[2].disappeared == 3


def test_the_set_based_diff_finds_every_kind_of_change(aws_source):
    _apply(aws_source, _stream_result(1), T1, batch_records=3)
    second, counts = _apply(aws_source, _stream_result(2), T2, batch_records=3)

    def events(ext, at=T2):
        return [(e.kind, e.detail) for e in CredentialEvent.objects.filter(credential__external_id=ext, observed_at=at)]

    assert events("AKIANEW") == [("appeared", {})]
    assert events("AKIADIS") == [("deactivated", {"fields": ["enabled"]})]
    assert events("AKIATAG") == [("changed", {"fields": ["tags"]})]
    assert events("AKIAROT") == [("rotated", {"fields": ["last_rotated_at"]})]
    assert events("AKIAUSED") == [("changed", {"fields": ["last_used_at"]})]
    assert events("AKIAMOVE") == [("changed", {"fields": ["identity_external_id"]})]
    assert events("AKIAGONE") == [("disappeared", {})]
    assert events(f"{ACCT}:user/carol") == [("disappeared", {})]
    old_db, new_db = _secret("AAAAAA", "db").external_id, _secret("BBBBBB", "db").external_id
    assert events(old_db) == [("disappeared", {})] and events(new_db) == [("appeared", {})]  # re-created with the same name
    assert events("AKIAKEEP") == [] and events(_secret("CCCCCC", "api").external_id) == []
    # Unchanged rows are carried without a new version.
    assert CredentialVersion.objects.filter(credential__external_id="AKIAKEEP").count() == 1
    moved = Credential.objects.get(external_id="AKIAMOVE")
    assert moved.identity.name == "bob" and moved.owner == "bob@example.test"
    carol = Identity.objects.get(name="carol")
    assert carol.disappeared_at == T2 and carol.versions.get().valid_to == T2
    assert (
        counts.changed == 5
        and counts.unchanged == 2
        and counts.events == {"appeared": 2, "deactivated": 1, "changed": 3, "rotated": 1, "disappeared": 3}
    )
    assert second.credential_count == 9 and second.identity_count == 3

    third, counts = _apply(aws_source, _stream_result(3), T3, batch_records=3)
    assert events("AKIAGONE", T3) == [("reappeared", {"absent_since": T2.isoformat()})]
    assert Identity.objects.get(name="carol").disappeared_at is None
    assert counts.reappeared == 2 and counts.created == 0
    assert Credential.objects.get(external_id="AKIAGONE").versions.filter(valid_to__isnull=True).count() == 1


def test_the_snapshot_digest_does_not_depend_on_batching(aws_source, second_source):
    one, _ = _apply(aws_source, _list_result(1), T1)
    many, _ = _apply(second_source, _stream_result(1), T1, batch_records=1)
    assert one.content_sha256 == many.content_sha256 and len(one.content_sha256) == 64
    assert many.facts == {"round": 1}  # set by the stream once it ended
    again, _ = _apply(aws_source, _stream_result(1), T2, batch_records=3)
    assert again.content_sha256 == one.content_sha256


def test_a_record_repeated_in_a_later_batch_is_an_item_error_not_a_second_row(aws_source):
    result = CollectionResult(target=Target(kind="aws_iam", source_key="123456789012"))
    result.stream = iter(
        [Batch(identities=[_user("alice")], credentials=[_key("AKIA1", "alice")]), Batch(credentials=[_key("AKIA1", "alice")])]
    )
    _, counts = _apply(aws_source, result, T1)
    assert counts.created == 1 and counts.skipped == 1
    assert [e["message"] for e in result.errors] == ["credential listed twice; the first was kept"]


def test_repeats_in_a_later_batch_are_found_among_many_earlier_keys(aws_source):
    """The earlier batches' keys are looked up in the database in slices: a repeat is refused
    wherever it falls, an identity as well as a credential, and a new key is not."""
    result = CollectionResult(target=Target(kind="aws_iam", source_key="123456789012"))
    names = [f"user{i:04d}" for i in range(1200)]
    result.stream = iter(
        [
            Batch(identities=[_user(n) for n in names], credentials=[_key(f"AKIA{i:04d}", n) for i, n in enumerate(names)]),
            Batch(
                identities=[_user("user1150"), _user("newcomer")], credentials=[_key("AKIA1199", "user1199"), _key("AKIA9999", "newcomer")]
            ),
        ]
    )
    _, counts = _apply(aws_source, result, T1, batch_records=2000)
    assert counts.identities == 1201 and counts.credentials == 1201 and counts.skipped == 2
    assert [(e["message"], e["item"]) for e in result.errors] == [
        ("identity listed twice; the first was kept", f"{ACCT}:user/user1150"),
        ("credential listed twice; the first was kept", "AKIA1199"),
    ]


@pytest.fixture
def streaming_connector(monkeypatch):
    monkeypatch.setitem(registry.CONNECTORS, "aws_secrets_manager", "tests.inventory.scripted.StreamingScripted")
    registry.connector_class.cache_clear()
    scripted.SCRIPT.clear()
    yield scripted.SCRIPT
    registry.connector_class.cache_clear()


def _sm(i):
    return CredentialRecord(f"arn:aws:secretsmanager:eu-west-1:123456789012:secret:s{i}-XXXXXX", "sm_secret", f"s{i}")


def _unit(source):
    run = CollectionRunFactory(status="pending", started_at=None, finished_at=None)
    return CollectionUnitFactory(run=run, source=source, scope="aws_secrets_manager:eu-west-1")


@pytest.mark.parametrize(
    ("fault", "code"),
    [(ConnectorError("Rate exceeded", code="throttled", retryable=True), "throttled"), (TypeError("page is not a list"), "internal_error")],
)
def test_a_stream_that_fails_half_way_leaves_the_previous_snapshot_whole(aws_source, streaming_connector, fault, code):
    unit = "aws_secrets_manager:eu-west-1"
    streaming_connector[unit] = [[[_sm(1), _sm(2)], [_sm(3)]], [[_sm(1)], [_sm(4)], fault]]
    first = _unit(aws_source)
    assert collection_unit_execute(unit_id=first.pk).status == "succeeded"
    before = _dump(aws_source)
    assert Snapshot.objects.get(unit=first).facts == {"batches": 2}

    second = _unit(aws_source)
    outcome = collection_unit_execute(unit_id=second.pk)
    second.refresh_from_db()
    assert outcome.status == "failed" and second.status == "failed"
    assert second.errors[-1]["code"] == code and second.api_calls == {"ListThings": 3}
    assert not Snapshot.objects.filter(unit=second).exists()
    assert _dump(aws_source) == before  # s2 and s3 not closed, s4 not written: nothing of the failed unit
    assert set(Credential.objects.filter(disappeared_at__isnull=True).values_list("name", flat=True)) == {"s1", "s2", "s3"}


def test_a_retryable_failure_mid_stream_is_retried_and_writes_nothing(aws_source, streaming_connector):
    unit = "aws_secrets_manager:eu-west-1"
    streaming_connector[unit] = [[[_sm(1)], ConnectorError("Rate exceeded", code="throttled", retryable=True)], [[_sm(1)], [_sm(2)]]]
    pending = _unit(aws_source)
    with pytest.raises(RetryLater):
        collection_unit_execute(unit_id=pending.pk, final_attempt=False)
    pending.refresh_from_db()
    assert pending.status == "pending" and pending.errors[-1]["retrying"] and not Credential.objects.exists()
    assert collection_unit_execute(unit_id=pending.pk).status == "succeeded"
    pending.refresh_from_db()
    assert pending.counts["created"] == 2 and pending.state == {"previous_seen": None} and pending.snapshot.facts == {"batches": 2}
