"""The people and inventory the access-review tests share (and the API, browser and hardening
suites reuse): fixtures, used by importing them into a conftest or test module."""

import datetime as dt

import pytest
from django.utils import timezone

from apps.accounts.roles import Role
from apps.inventory.models import Source
from tests.factories import (
    CollectionRunFactory,
    CollectionUnitFactory,
    CredentialFactory,
    IdentityFactory,
    SnapshotFactory,
    SourceFactory,
    make_user,
)


@pytest.fixture
def people(db):
    return {
        "grc": make_user(Role.GRC_LEAD, username="grc-lead", email="grc@example.test"),
        "alice": make_user(Role.REVIEWER, username="alice", email="alice@example.test"),
        "bob": make_user(Role.REVIEWER, username="bob", email="bob@example.test"),
        "fallback": make_user(Role.REVIEWER, username="fallback", email="security@example.test"),
        "auditor": make_user(Role.AUDITOR, username="aud", email="aud@example.test"),
    }


@pytest.fixture
def inventory(people):
    """One AWS source: alice's IAM user (privileged, owned by bob) with a key, a service user
    owned by alice with a key, a secret owned by bob, and an unowned key."""
    now = timezone.now()
    source = SourceFactory(
        name="prod",
        kind=Source.Kind.AWS_ACCOUNT,
        aws_account_id="123456789012",
        role_arn="arn:aws:iam::123456789012:role/audit",
        regions=["eu-west-1"],
        created_by=people["grc"],
    )
    unit = CollectionUnitFactory(run=CollectionRunFactory(started_at=now), source=source, scope="aws_iam", status="succeeded")
    SnapshotFactory(unit=unit, source=source, scope="aws_iam", taken_at=now)

    def identity(name, kind="human", privileged=False, owner=""):
        return IdentityFactory(source=source, name=name, kind=kind, privileged=privileged, mfa_active=True, owner=owner, first_seen_at=now)

    def credential(name, ident=None, ctype="access_key", owner="", scope="aws_iam", **kw):
        return CredentialFactory(
            source=source,
            scope=scope,
            name=name,
            credential_type=ctype,
            identity=ident,
            enabled=True,
            owner=owner,
            first_seen_at=now,
            created_at=now - dt.timedelta(days=200),
            **kw,
        )

    alice_user = identity("alice", privileged=True, owner="bob@example.test")
    svc = identity("svc-batch", kind="service", owner="alice@example.test")
    return {
        "source": source,
        "alice_key": credential("AKIAALICE", alice_user, owner="alice@example.test"),
        "svc_key": credential("AKIASVC", svc),
        "secret": credential("db-password", None, ctype="sm_secret", owner="bob", scope="aws_secrets_manager:eu-west-1"),
        "orphan": credential("AKIAORPHAN", identity("legacy", kind="service")),
    }


@pytest.fixture
def campaign(people, inventory):
    from apps.reviews.services import campaign_create, campaign_start

    draft = campaign_create(
        actor=people["grc"],
        name="Q4 review",
        scope={"source_ids": [inventory["source"].pk]},
        due_date=timezone.now().date() + dt.timedelta(days=14),
        fallback_reviewer=people["fallback"],
    )
    return campaign_start(actor=people["grc"], campaign=draft)
