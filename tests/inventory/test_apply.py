"""Applying connector results to the inventory: versions, lifecycle events, snapshots, scope isolation."""

import datetime as dt

import pytest

from apps.connectors.base import CredentialRecord, IdentityRecord
from apps.inventory.models import Credential, CredentialEvent, CredentialVersion, Identity, Snapshot
from tests.support.apply import T0, USER
from tests.support.apply import apply as _apply
from tests.support.apply import key as _key
from tests.support.apply import result as _result

pytestmark = pytest.mark.django_db


def test_first_collection_creates_rows_versions_and_events(aws_source):
    snapshot, counts = _apply(aws_source, _result([_key(), _key("AKIAEXAMPLE2")]))
    assert counts.created == 2 and counts.identities == 1
    cred = Credential.objects.get(external_id="AKIAEXAMPLE1")
    assert cred.identity.name == "alice" and cred.owner == "alice@example.test"  # owner inherited from the identity
    assert cred.versions.count() == 1 and cred.versions.get().valid_to is None
    assert list(cred.events.values_list("kind", flat=True)) == ["appeared"]
    assert snapshot.credential_count == 2 and snapshot.identity_count == 1 and len(snapshot.content_sha256) == 64


def test_an_unchanged_collection_writes_no_versions_or_events(aws_source):
    first, _ = _apply(aws_source, _result([_key()]))
    second, counts = _apply(aws_source, _result([_key()]))
    assert counts.unchanged == 1 and counts.changed == 0 and counts.created == 0
    assert CredentialVersion.objects.count() == 1 and CredentialEvent.objects.count() == 1
    assert first.content_sha256 == second.content_sha256


def test_deactivation_and_rotation_are_classified(aws_source):
    t1, t2, t3 = T0, T0 + dt.timedelta(days=1), T0 + dt.timedelta(days=2)
    _apply(aws_source, _result([_key()]), at=t1)
    _apply(aws_source, _result([_key(enabled=False)]), at=t2)
    sm = lambda rotated: CredentialRecord("arn:sm:db", "sm_secret", "db", last_rotated_at=rotated, rotation_enabled=True)  # noqa: E731
    _apply(
        aws_source, _result([sm(T0)], identities=[], scope="aws_secrets_manager:eu-west-1"), scope="aws_secrets_manager:eu-west-1", at=t2
    )
    _apply(
        aws_source, _result([sm(t3)], identities=[], scope="aws_secrets_manager:eu-west-1"), scope="aws_secrets_manager:eu-west-1", at=t3
    )
    key = Credential.objects.get(external_id="AKIAEXAMPLE1")
    assert list(key.events.values_list("kind", flat=True)) == ["appeared", "deactivated"]
    assert key.events.last().detail["fields"] == ["enabled"]
    versions = list(key.versions.order_by("valid_from"))
    assert versions[0].valid_to == t2 and versions[1].valid_from == t2 and versions[1].valid_to is None
    secret = Credential.objects.get(external_id="arn:sm:db")
    assert list(secret.events.values_list("kind", flat=True)) == ["appeared", "rotated"]


def test_disappearance_and_reappearance(aws_source):
    _apply(aws_source, _result([_key(), _key("AKIAEXAMPLE2")]))
    _, counts = _apply(aws_source, _result([_key()]))
    gone = Credential.objects.get(external_id="AKIAEXAMPLE2")
    assert counts.disappeared == 1 and gone.disappeared_at is not None
    assert gone.versions.get().valid_to == gone.disappeared_at
    _, counts = _apply(aws_source, _result([_key(), _key("AKIAEXAMPLE2")]))
    gone.refresh_from_db()
    assert counts.reappeared == 1 and gone.disappeared_at is None
    assert list(gone.events.values_list("kind", flat=True)) == ["appeared", "disappeared", "reappeared"]


def test_a_scope_only_touches_its_own_rows(aws_source):
    scope_a, scope_b = "aws_secrets_manager:eu-west-1", "aws_secrets_manager:us-east-1"
    _apply(aws_source, _result([CredentialRecord("arn:a", "sm_secret", "a")], identities=[]), scope=scope_a)
    _apply(aws_source, _result([CredentialRecord("arn:b", "sm_secret", "b")], identities=[]), scope=scope_b)
    _apply(aws_source, _result([], identities=[]), scope=scope_b)  # b emptied
    assert Credential.objects.get(external_id="arn:a").disappeared_at is None
    assert Credential.objects.get(external_id="arn:b").disappeared_at is not None


def test_hostile_and_unstorable_values_are_kept_faithfully(aws_source):
    tags = {
        "owner": "=cmd|' /C calc'!A0",
        "html": "<script>alert(1)</script>",
        "big": "x" * 10_000,
        "bidi": "abc\u202edef\u200b",
        "nul": "a\x00b",
        "bad-utf8": b"caf\xe9".decode("utf-8", "surrogateescape"),
    }
    _apply(aws_source, _result([_key(tags=tags)]))
    cred = Credential.objects.get()
    assert cred.tags["owner"] == "=cmd|' /C calc'!A0" and cred.owner == "=cmd|' /C calc'!A0"
    assert cred.tags["html"] == "<script>alert(1)</script>" and len(cred.tags["big"]) == 10_000
    assert cred.tags["bidi"] == "abc\u202edef\u200b"
    assert cred.tags["nul"] == "a\\x00b" and cred.tags["bad-utf8"] == "caf\\udce9"


def test_invalid_items_are_skipped_and_reported(aws_source):
    result = _result(
        [
            _key(),
            CredentialRecord("", "access_key", "no id"),
            CredentialRecord("x" * 5000, "access_key", "long"),
            CredentialRecord("k", "mystery_type", "?"),
        ]
    )
    _, counts = _apply(aws_source, result)
    assert counts.skipped == 3 and Credential.objects.count() == 1
    assert [e["code"] for e in result.errors] == ["invalid_item"] * 3


def test_names_an_index_cannot_hold_are_refused_as_items_and_the_rest_is_kept(aws_source):
    # Random text does not compress: past ~2,700 bytes PostgreSQL refuses the index entry, which
    # would fail the whole unit. No cloud allows such names; the item is refused and reported.
    noise = "".join(chr(0x4E00 + (n * 7919) % 20000) for n in range(700))  # 700 CJK characters: 2,100 bytes
    escapes = "\x00" * 400  # stored as 1,600 bytes of escapes: still fits
    result = _result(
        [_key(), CredentialRecord("arn:sm:noise", "sm_secret", noise), CredentialRecord("arn:sm:nul", "sm_secret", escapes)],
        identities=[IdentityRecord(USER, "alice", "human"), IdentityRecord(USER + "2", noise, "human")],
    )
    _, counts = _apply(aws_source, result)
    assert counts.skipped == 2 and set(Credential.objects.values_list("external_id", flat=True)) == {"AKIAEXAMPLE1", "arn:sm:nul"}
    assert [e["message"] for e in result.errors] == ["identity name longer than 2000 bytes", "credential name longer than 2000 bytes"]
    assert Credential.objects.get(external_id="arn:sm:nul").name == "\\x00" * 400


def test_recreated_user_with_the_same_name_gets_a_new_identity_version(aws_source):
    _apply(aws_source, _result([_key()], identities=[IdentityRecord(USER, "alice", "human", created_at=T0)]))
    later = T0 + dt.timedelta(days=30)
    _apply(aws_source, _result([_key("AKIANEW")], identities=[IdentityRecord(USER, "alice", "human", created_at=later)]))
    identity = Identity.objects.get()
    assert identity.created_at == later and identity.versions.count() == 2
    assert Credential.objects.get(external_id="AKIAEXAMPLE1").disappeared_at is not None
    assert Credential.objects.get(external_id="AKIANEW").identity == identity
    assert Snapshot.objects.count() == 2
