"""Least disclosure: two engagements over two sources, each shared with its own auditor, each
pack built for real; neither pack holds anything of the other engagement — not its name,
auditor, source, credentials, exceptions, controls, campaigns or packs — nor anyone's
sign-ins, API tokens or refused paths. Each still holds everything of its own scope."""

import datetime as dt
import zipfile

import pytest
from django.db import transaction
from django.utils import timezone

from apps.accounts.roles import Role
from apps.api.services import token_issue
from apps.audit import events
from apps.connectors.base import CollectionResult, CredentialRecord, IdentityRecord, Target
from apps.controls.services import control_create, control_share
from apps.evaluation.services import evaluation_run
from apps.evidence import services
from apps.exceptions_register.services import exception_request
from apps.inventory.models import CollectionRun, Credential, Source
from apps.inventory.services.apply import inventory_apply
from apps.reviews.services import campaign_create, campaign_start
from tests.factories import CollectionRunFactory, CollectionUnitFactory, SourceFactory, make_user

pytestmark = pytest.mark.django_db


def _source(name, account, grc):
    return SourceFactory(
        name=name,
        kind=Source.Kind.AWS_ACCOUNT,
        aws_account_id=account,
        role_arn=f"arn:aws:iam::{account}:role/audit",
        regions=[],
        created_by=grc,
    )


def _collect(source, user, key_id, at):
    arn = f"arn:aws:iam::{source.aws_account_id}:user/{user}"
    run = CollectionRunFactory(status=CollectionRun.Status.SUCCEEDED, started_at=at, finished_at=at)
    unit = CollectionUnitFactory(
        run=run, source=source, connector="aws_iam", scope="aws_iam", status="succeeded", attempts=1, started_at=at, finished_at=at
    )
    old = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    result = CollectionResult(
        target=Target(kind="aws_iam", source_key=source.aws_account_id),
        identities=[IdentityRecord(arn, user, "human", tags={"owner": f"{user}@example.test"}, mfa_active=False)],
        credentials=[
            CredentialRecord(key_id, "access_key", key_id, identity_external_id=arn, enabled=True, created_at=old, last_rotated_at=old)
        ],
        facts={"password_policy": None},
    )
    with transaction.atomic():
        inventory_apply(unit=unit, result=result, taken_at=at)


def _side(*, grc, reviewer, catalog, label, account, at):
    """One engagement's world: a source with a user and a key, an exception on that key, a
    control shared with the engagement's auditor, a started campaign, the engagement."""
    source = _source(f"{label}-account", account, grc)
    _collect(source, f"{label}-user", f"AKIA{label.upper():0<12}", at)
    credential = Credential.objects.get(source=source)
    auditor = make_user(Role.AUDITOR, username=f"{label}-auditor")
    exception_request(
        actor=grc,
        title=f"{label} legacy key exception",
        rule_ids=["iam-key-rotation-age"],
        scope={"credential_ids": [credential.pk]},
        justification=f"{label} vendor",
        compensating_controls="IP allow-list",
        risk="medium",
        owner=grc,
        expires_on=timezone.now().date() + dt.timedelta(days=30),
    )
    control = control_create(
        actor=grc, title=f"{label} rotation control", owner=grc, narrative=f"{label} keys rotate", requirements=list(catalog[:2])
    )
    control_share(actor=grc, control=control, grantee=auditor, permissions=["view_control"])
    campaign = campaign_create(
        actor=grc,
        name=f"{label} key review",
        scope={"source_ids": [source.pk]},
        due_date=timezone.now().date() + dt.timedelta(days=10),
        fallback_reviewer=reviewer,
    )
    campaign_start(actor=grc, campaign=campaign)
    engagement = services.engagement_create(
        actor=grc, name=f"{label} engagement FY26", period_start=dt.date(2020, 1, 1), period_end=dt.date(2030, 12, 31), sources=[source]
    )
    services.engagement_share(actor=grc, engagement=engagement, grantee=auditor)
    return {
        "engagement": engagement,
        "auditor": auditor,
        "strings": [
            f"{label} engagement FY26",
            f"{label}-auditor",
            f"{label}-account",
            f"{label}-user",
            f"AKIA{label.upper():0<12}",
            f"{label} legacy key exception",
            f"{label} vendor",
            f"{label} rotation control",
            control.ref,
            f"{label} keys rotate",
            f"{label} key review",
        ],
    }


def _pack_json(engagement, grc, capture) -> str:
    with capture(execute=True):
        pack = services.pack_request(actor=grc, engagement=engagement, sample_size=5)
    pack.refresh_from_db()
    assert pack.state == pack.State.SUCCEEDED, pack.error
    with zipfile.ZipFile(pack.file.path) as zf:
        return zf.read("pack.json").decode("utf-8") + zf.read("oscal-assessment-results.json").decode("utf-8"), pack


def test_each_pack_holds_nothing_of_the_other_engagement(catalog, grc_lead, django_capture_on_commit_callbacks):
    reviewer = make_user(Role.REVIEWER, username="fallback-reviewer")
    at = timezone.now() - dt.timedelta(days=2)
    alpha = _side(grc=grc_lead, reviewer=reviewer, catalog=catalog, label="alpha", account="111111111111", at=at)
    beta = _side(grc=grc_lead, reviewer=reviewer, catalog=catalog, label="beta", account="222222222222", at=at)
    evaluation_run(now=timezone.now() - dt.timedelta(days=1))
    # What no pack may carry: anyone's sign-ins, API tokens and refused paths.
    events.user_logged_in(user=beta["auditor"])
    events.access_denied(actor=alpha["auditor"], permission="evidence.view_engagement", path="/evidence/4242/secret-refused-path/")
    token_issue(actor=grc_lead, name="ci-token-zeta", scope="read", expires_at=timezone.now() + dt.timedelta(days=5))
    private = ["secret-refused-path", "ci-token-zeta", "user.logged_in", "access.denied", "api_token.issued"]

    alpha_json, alpha_pack = _pack_json(alpha["engagement"], grc_lead, django_capture_on_commit_callbacks)
    with transaction.atomic():
        services.pack_open(actor=alpha["auditor"], pack=alpha_pack).close()  # alpha's auditor downloads: beta must not see it
    beta_json, beta_pack = _pack_json(beta["engagement"], grc_lead, django_capture_on_commit_callbacks)

    for own, other, text, other_pack in (
        (alpha, beta, alpha_json, beta_pack),
        (beta, alpha, beta_json, alpha_pack),
    ):
        assert own["strings"] and other["strings"]
        missing = [s for s in own["strings"] if s not in text]
        assert not missing, f"{own['engagement'].name}'s pack lacks its own {missing}"
        leaked = [s for s in [*other["strings"], *private, other_pack.pack_id, other_pack.sha256] if s in text]
        assert not leaked, f"{own['engagement'].name}'s pack discloses {leaked}"
    assert '"event_type":"engagement.created"' in alpha_json and '"event_type":"object.shared"' in alpha_json
    assert '"event_type":"pack.downloaded"' not in beta_json
