"""Shared by the evidence, API, browser and hardening suites: a small organisation with history: two collections (a key rotated, one deactivated,
hostile tag values), an evaluation, an exception, an engagement shared with an auditor."""

import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone

from apps.connectors.base import CollectionResult, CredentialRecord, IdentityRecord, Target
from apps.evaluation.services import evaluation_run
from apps.evidence.services import engagement_create, engagement_share
from apps.inventory.models import CollectionRun, Source
from apps.inventory.services.apply import inventory_apply
from tests.factories import CollectionRunFactory, CollectionUnitFactory, SourceFactory

T1 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
T2 = dt.datetime(2026, 4, 1, 9, 0, tzinfo=dt.UTC)
USER = "arn:aws:iam::123456789012:user/alice"
FORMULA = '=HYPERLINK("http://evil.example/","click")'
HTML = "<script>alert('x')</script>"


def _collect(source, creds, at):
    run = CollectionRunFactory(status=CollectionRun.Status.SUCCEEDED, started_at=at, finished_at=at)
    unit = CollectionUnitFactory(
        run=run, source=source, connector="aws_iam", scope="aws_iam", status="succeeded", attempts=1, started_at=at, finished_at=at
    )
    result = CollectionResult(
        target=Target(kind="aws_iam", source_key="123456789012"),
        identities=[IdentityRecord(USER, "alice", "human", tags={"owner": "alice@example.test"}, mfa_active=False)],
        credentials=creds,
        facts={"password_policy": None},
    )
    with transaction.atomic():
        inventory_apply(unit=unit, result=result, taken_at=at)


def _key(key_id, *, enabled=True, rotated=None, tags=None, name=None):
    return CredentialRecord(
        key_id,
        "access_key",
        name or key_id,
        identity_external_id=USER,
        enabled=enabled,
        created_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
        last_rotated_at=rotated or dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
        tags=tags or {},
    )


@pytest.fixture
def world(db, catalog, grc_lead, auditor):
    source = SourceFactory(
        name="prod",
        kind=Source.Kind.AWS_ACCOUNT,
        aws_account_id="123456789012",
        role_arn="arn:aws:iam::123456789012:role/audit",
        regions=[],
        created_by=grc_lead,
    )
    other = SourceFactory(
        name="other",
        kind=Source.Kind.AWS_ACCOUNT,
        aws_account_id="210987654321",
        role_arn="arn:aws:iam::210987654321:role/audit",
        regions=[],
        created_by=grc_lead,
    )
    _collect(
        source,
        [
            _key("AKIAROTATED0001"),
            _key("AKIADISABLED001"),
            _key("AKIAHOSTILE0001", tags={"owner": FORMULA, "cmd": "+cmd|' /C calc'!A0"}, name=HTML),
        ],
        T1,
    )
    _collect(
        source,
        [
            _key("AKIAROTATED0001", rotated=T2 - dt.timedelta(days=1)),
            _key("AKIADISABLED001", enabled=False),
            _key("AKIAHOSTILE0001", tags={"owner": FORMULA, "cmd": "+cmd|' /C calc'!A0"}, name=HTML),
        ],
        T2,
    )
    evaluation_run(now=T2 + dt.timedelta(hours=1))
    from apps.exceptions_register.services import exception_request

    exception_request(
        actor=grc_lead,
        title="Legacy key",
        rule_ids=["iam-key-rotation-age"],
        scope={"source_ids": [source.pk]},
        justification="vendor",
        compensating_controls="IP allow-list",
        risk="medium",
        owner=grc_lead,
        expires_on=timezone.now().date() + dt.timedelta(days=30),
    )
    engagement = engagement_create(
        actor=grc_lead,
        name="FY2026 ISO 27017 audit",
        period_start=dt.date(2026, 1, 1),
        period_end=dt.date(2026, 12, 31),
        sources=[source],
        requirements=[],
    )
    engagement_share(actor=grc_lead, engagement=engagement, grantee=auditor)
    return {"source": source, "other": other, "engagement": engagement}


CAMPAIGNS = [
    {
        "id": 7,
        "name": "Q1 privileged keys",
        "state": "signed_off",
        "scope": {"source_ids": [1], "privileged_only": True},
        "started_at": "2026-03-02T10:00:00Z",
        "due_date": "2026-03-31",
        "signed_off_at": "2026-04-02T12:00:00Z",
        "signed_off_by": "grc",
        "population_count": 2,
        "population_hash": "ab" * 32,
        "items": [
            {
                "id": 70,
                "credential_id": 1,
                "identity_id": 1,
                "subject": "AKIAROTATED0001 (alice)",
                "source_id": 1,
                "facts": {"age_days": 400},
                "reviewer": "rosa",
                "decision": "rotate",
                "justification": "too old",
                "decided_at": "2026-03-10T08:00:00Z",
                "decided_by": "rosa",
                "flagged": False,
            },
            {
                "id": 71,
                "credential_id": 2,
                "identity_id": 1,
                "subject": "=cmd|' /C calc'!A0",
                "source_id": 1,
                "facts": {},
                "reviewer": "rosa",
                "decision": "keep",
                "justification": "<b>needed</b>",
                "decided_at": "2026-03-11T08:00:00Z",
                "decided_by": "rosa",
                "flagged": True,
            },
        ],
        "remediation": [
            {
                "id": 700,
                "item_id": 70,
                "credential_id": 1,
                "action": "rotate",
                "owner": "alice",
                "due_date": "2026-03-20",
                "state": "verified",
                "verified_at": "2026-04-01T09:00:00Z",
                "verified_by_run_id": 2,
                "events": [
                    {"at": "2026-03-10T08:00:00Z", "state": "open", "run_id": None, "note": "created"},
                    {"at": "2026-04-01T09:00:00Z", "state": "verified", "run_id": 2, "note": "rotated"},
                ],
            }
        ],
    }
]
