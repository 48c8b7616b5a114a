"""Helpers for tests that apply connector results to the inventory directly (no connector):
one AWS IAM user, access keys of it, and ``inventory_apply`` inside a transaction."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from apps.connectors.base import CollectionResult, CredentialRecord, IdentityRecord, Target
from apps.inventory.services.apply import inventory_apply
from tests.factories import CollectionRunFactory, CollectionUnitFactory

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
USER = "arn:aws:iam::123456789012:user/alice"


def unit(source, scope="aws_iam"):
    run = CollectionRunFactory(status="pending", started_at=None, finished_at=None)
    return CollectionUnitFactory(run=run, source=source, connector=scope.split(":")[0], scope=scope)


def result(creds, identities=None, scope="aws_iam"):
    return CollectionResult(
        target=Target(kind=scope.split(":")[0], source_key="123456789012"),
        identities=identities if identities is not None else [IdentityRecord(USER, "alice", "human", tags={"owner": "alice@example.test"})],
        credentials=creds,
        facts={"password_policy": None},
    )


def key(key_id="AKIAEXAMPLE1", enabled=True, rotated=None, **kw):
    return CredentialRecord(
        key_id, "access_key", key_id, identity_external_id=USER, enabled=enabled, created_at=T0, last_rotated_at=rotated, **kw
    )


def apply(source, result, scope="aws_iam", at=None):
    with transaction.atomic():
        return inventory_apply(unit=unit(source, scope), result=result, taken_at=at or timezone.now())
