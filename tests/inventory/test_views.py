"""The inventory's pages: sources, collection runs, credentials and identities.

Rows are made with the ORM (what a collection would have written), so each test pins what
the pages show and who may see or act, not how a collection runs (test_collection.py).
"""

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone
from guardian.shortcuts import assign_perm

from apps.audit.models import AuditEvent
from apps.inventory.models import (
    CollectionRun,
    CollectionUnit,
    Credential,
    CredentialEvent,
    CredentialVersion,
    Identity,
    IdentityVersion,
    Source,
)
from tests.factories import CollectionRunFactory, CollectionUnitFactory, CredentialFactory, IdentityFactory, SnapshotFactory, SourceFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2025, 6, 1, 8, 30, tzinfo=dt.UTC)
T1 = dt.datetime(2025, 9, 1, 8, 30, tzinfo=dt.UTC)
HOSTILE_TAGS = {
    "formula": "=cmd|' /C calc'!A0",
    "html": "<script>alert('tag')</script>",
    "rtl": "\u202eexe.txt",
    "huge": "Z" * 10_240,
    "items": "a key that shadows dict.items in a template",
}


def _source(name, user, **kw):
    values = {
        "kind": Source.Kind.AWS_ACCOUNT,
        "aws_account_id": "123456789012",
        "role_arn": f"arn:aws:iam::123456789012:role/{name}",
        "regions": ["eu-west-1"],
    }
    values.update(kw)
    return SourceFactory(name=name, created_by=user, **values)


def _unit(run, source, scope, status, **kw):
    return CollectionUnitFactory(run=run, source=source, connector=scope.split(":")[0], scope=scope, status=status, **kw)


def _snapshot(unit, taken_at, **kw):
    return SnapshotFactory(unit=unit, source=unit.source, scope=unit.scope, taken_at=taken_at, content_sha256="a" * 64, **kw)


def _identity(source, name, **kw):
    values = {"scope": "aws_iam", "kind": Identity.Kind.HUMAN, "fingerprint": "f", "first_seen_at": T0}
    values.update(kw)
    return IdentityFactory(source=source, external_id=f"arn:aws:iam::123456789012:user/{name}", name=name, **values)


def _credential(source, name, **kw):
    external_id = kw.pop("external_id", name)
    values = {"scope": "aws_iam", "credential_type": Credential.Type.ACCESS_KEY, "fingerprint": "f", "first_seen_at": T0, "enabled": True}
    values.update(kw)
    return CredentialFactory(source=source, external_id=external_id, name=name, **values)


@pytest.fixture
def inv(grc_lead):
    """Two sources; a finished run with a failed unit, a running run, and an inventory with history."""
    prod = _source("prod", grc_lead)
    vault = _source(
        "vault",
        grc_lead,
        kind=Source.Kind.AZURE_KEY_VAULT,
        aws_account_id="",
        role_arn="",
        regions=[],
        vault_url="https://kv-one.vault.azure.net/",
    )
    first = CollectionRunFactory(
        status=CollectionRun.Status.SUCCEEDED, requested_by=grc_lead, started_at=T0, finished_at=T0 + dt.timedelta(seconds=4)
    )
    first_iam = _unit(first, prod, "aws_iam", "succeeded", attempts=1, started_at=T0, finished_at=T0 + dt.timedelta(seconds=3))
    snap0 = _snapshot(first_iam, T0, identity_count=2, credential_count=2)
    finished = CollectionRunFactory(
        status=CollectionRun.Status.PARTIAL, requested_by=grc_lead, started_at=T1, finished_at=T1 + dt.timedelta(seconds=12)
    )
    iam = _unit(
        finished,
        prod,
        "aws_iam",
        "succeeded",
        attempts=1,
        started_at=T1,
        finished_at=T1 + dt.timedelta(seconds=2),
        api_calls={"GenerateCredentialReport": 1, "GetAccountAuthorizationDetails": 3},
        counts={"identities": 2, "credentials": 2, "created": 0, "changed": 1, "disappeared": 1, "seconds": 2.0},
    )
    _unit(
        finished,
        prod,
        "aws_secrets_manager:eu-west-1",
        "failed",
        attempts=2,
        started_at=T1,
        finished_at=T1 + dt.timedelta(seconds=9),
        errors=[
            {"code": "throttled", "message": "Rate exceeded <b>slow down</b>", "item": "", "attempt": 1, "retrying": True},
            {"code": "assume_role_failed", "message": "AccessDenied", "item": "secret/<i>x</i>", "attempt": 2},
        ],
    )
    kv = _unit(
        finished,
        vault,
        "azure_key_vault:https://kv-one.vault.azure.net/",
        "succeeded",
        attempts=1,
        started_at=T1,
        finished_at=T1 + dt.timedelta(seconds=1),
    )
    snap1 = _snapshot(iam, T1, identity_count=2, credential_count=1, facts={"password_policy": None})
    _snapshot(kv, T1, credential_count=1)
    running = CollectionRunFactory(status=CollectionRun.Status.RUNNING, requested_by=grc_lead, started_at=timezone.now(), finished_at=None)
    _unit(running, prod, "aws_iam", "succeeded", attempts=1)
    _unit(running, prod, "aws_secrets_manager:eu-west-1", "running", attempts=1)
    _unit(running, vault, "azure_key_vault:https://kv-one.vault.azure.net/", "pending")

    alice = _identity(
        prod,
        "alice",
        privileged=True,
        mfa_active=False,
        owner="alice@example.test",
        tags={"owner": "alice@example.test"},
        data={
            "groups": ["Admins"],
            "policies": ["arn:aws:iam::aws:policy/AdministratorAccess"],
            "mfa_devices": [{"serial": "arn:aws:iam::123456789012:mfa/alice", "type": "virtual"}],
        },
    )
    robot = _identity(prod, "ci-robot", kind=Identity.Kind.SERVICE, privileged=False, mfa_active=None)
    IdentityVersion.objects.create(
        identity=alice, data={"name": "alice", "groups": ["Admins"]}, fingerprint="f", valid_from=T0, first_snapshot=snap0
    )
    key = _credential(
        prod,
        "AKIAALICE0000001",
        identity=alice,
        owner="alice@example.test",
        created_at=T0,
        last_rotated_at=T1,
        last_used_at=T1,
        tags=HOSTILE_TAGS,
        attributes={"status": "Active", "nested": {"a": [1, 2]}},
    )
    old_key = _credential(prod, "AKIAROBOT0000001", identity=robot, enabled=False, disappeared_at=T1, created_at=T0)
    secret = _credential(
        vault,
        "db-password",
        scope="azure_key_vault:https://kv-one.vault.azure.net/",
        credential_type=Credential.Type.KV_SECRET,
        external_id="https://kv-one.vault.azure.net/secrets/db-password",
        expires_at=T1 + dt.timedelta(days=365),
    )
    CredentialVersion.objects.create(
        credential=key,
        data={"name": "AKIAALICE0000001", "enabled": True, "last_rotated_at": None, "tags": {"owner": "bob"}},
        fingerprint="v1",
        valid_from=T0,
        valid_to=T1,
        first_snapshot=snap0,
    )
    CredentialVersion.objects.create(
        credential=key,
        data={"name": "AKIAALICE0000001", "enabled": True, "last_rotated_at": T1.isoformat(), "tags": {"owner": "alice"}},
        fingerprint="v2",
        valid_from=T1,
        first_snapshot=snap1,
    )
    CredentialEvent.objects.create(credential=key, kind=CredentialEvent.Kind.APPEARED, observed_at=T0, snapshot=snap0)
    CredentialEvent.objects.create(
        credential=key, kind=CredentialEvent.Kind.ROTATED, observed_at=T1, snapshot=snap1, detail={"fields": ["last_rotated_at", "tags"]}
    )
    CredentialEvent.objects.create(credential=old_key, kind=CredentialEvent.Kind.DISAPPEARED, observed_at=T1, snapshot=snap1)
    return {
        "prod": prod,
        "vault": vault,
        "finished": finished,
        "running": running,
        "alice": alice,
        "robot": robot,
        "key": key,
        "old_key": old_key,
        "secret": secret,
    }


def _body(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


# --- every page, as the GRC lead ---------------------------------------------------------


def test_every_page_renders_for_the_grc_lead(client, grc_lead, inv):
    client.force_login(grc_lead)
    sources = _body(client.get(reverse("inventory:source_list")))
    assert "arn:aws:iam::123456789012:role/prod" in sources and "https://kv-one.vault.azure.net/" in sources
    assert "Collect now" in sources and "Collect all" in sources and "New source" in sources
    assert f'href="{reverse("inventory:run_detail", args=[inv["running"].pk])}"' in sources  # last run per source
    assert ">Inventory</a>" in sources and ">Collections</a>" in sources

    detail = _body(client.get(reverse("inventory:source_detail", args=[inv["prod"].pk])))
    assert (
        "aws_secrets_manager:eu-west-1" not in detail.split("Latest snapshot per scope")[1].split("Recent runs")[0]
    )  # failed: no snapshot
    assert "2025-09-01 08:30" in detail and "Edit" in detail
    # A run of this source is still going: no second one from here, a link to its progress instead.
    assert f"Collecting… (run #{inv['running'].pk})" in detail and reverse("inventory:source_collect", args=[inv["prod"].pk]) not in detail

    runs = _body(client.get(reverse("inventory:run_list")))
    assert f"#{inv['finished'].pk}" in runs and "12.0 s" in runs

    run = _body(client.get(reverse("inventory:run_detail", args=[inv["finished"].pk])))
    assert "GetAccountAuthorizationDetails" in run and "assume_role_failed" in run and "Retry failed units" in run
    assert "Rate exceeded &lt;b&gt;slow down&lt;/b&gt;" in run and "secret/&lt;i&gt;x&lt;/i&gt;" in run
    assert 'hx-trigger="every 2s"' not in run  # finished: no polling
    assert re.search(r'<progress max="3" value="3"', run)

    creds = _body(client.get(reverse("inventory:credential_list")))
    assert "AKIAALICE0000001" in creds and "db-password" in creds and "alice" in creds

    cred = _body(client.get(reverse("inventory:credential_detail", args=[inv["key"].pk])))
    assert "Rotated" in cred and "Appeared" in cred and "tags.owner" in cred and "bob → alice" in cred
    assert "last_rotated_at</strong>: — → 2025-09-01 08:30" in cred  # stored ISO time shown as UTC Y-m-d H:i
    assert "last_rotated_at, tags" in cred  # the rotated event's detail
    assert "a key that shadows dict.items in a template" in cred  # a tag called "items" is a tag, not a method

    identities = _body(client.get(reverse("inventory:identity_list")))
    assert "ci-robot" in identities and "Non-human" in identities

    ident = _body(client.get(reverse("inventory:identity_detail", args=[inv["alice"].pk])))
    assert "Admins" in ident and "AdministratorAccess" in ident and "arn:aws:iam::123456789012:mfa/alice" in ident
    assert "AKIAALICE0000001" in ident

    form = _body(client.get(reverse("inventory:source_create")))
    assert 'name="role_arn"' in form and 'name="vault_url"' not in form
    form = _body(client.get(reverse("inventory:source_create"), {"kind": "azure_key_vault"}))
    assert 'name="vault_url"' in form and 'name="role_arn"' not in form
    edit = _body(client.get(reverse("inventory:source_edit", args=[inv["prod"].pk])))
    assert 'value="eu-west-1"' in edit and 'name="enabled"' in edit


def test_dates_are_utc_with_a_dash_for_none_and_ages_in_days(client, grc_lead, inv):
    client.force_login(grc_lead)
    body = _body(client.get(reverse("inventory:credential_list"), {"q": "AKIAALICE"}))
    age = (timezone.now() - T0).days
    assert "2025-06-01 08:30" in body and f"{age} d" in body
    row = _body(client.get(reverse("inventory:credential_list"), {"q": "AKIAROBOT"}))
    assert "—" in row  # never used, never rotated, no expiry


def test_a_running_run_polls_its_units_until_it_finishes(client, grc_lead, inv):
    client.force_login(grc_lead)
    running = inv["running"]
    page = _body(client.get(reverse("inventory:run_detail", args=[running.pk])))
    assert 'hx-trigger="every 2s"' in page and reverse("inventory:run_units", args=[running.pk]) in page
    assert '<progress max="3" value="1"' in page and "Retry failed units" not in page
    partial = _body(client.get(reverse("inventory:run_units", args=[running.pk]), HTTP_HX_REQUEST="true"))
    assert 'id="run-units"' in partial and "<html" not in partial and 'hx-trigger="every 2s"' in partial

    CollectionUnit.objects.filter(run=running).update(status="succeeded")
    CollectionRun.objects.filter(pk=running.pk).update(status="succeeded", finished_at=timezone.now())
    partial = _body(client.get(reverse("inventory:run_units", args=[running.pk]), HTTP_HX_REQUEST="true"))
    assert "hx-trigger" not in partial and '<progress max="3" value="3"' in partial  # polling stops


# --- who sees what ---------------------------------------------------------------------


def test_approver_views_everything_but_sees_no_button_and_is_refused_posting(client, approver, inv):
    client.force_login(approver)
    sources = _body(client.get(reverse("inventory:source_list")))
    assert "prod" in sources and "Collect now" not in sources and "Collect all" not in sources and "New source" not in sources
    detail = _body(client.get(reverse("inventory:source_detail", args=[inv["prod"].pk])))
    assert "Collect now" not in detail and reverse("inventory:source_edit", args=[inv["prod"].pk]) not in detail
    run = _body(client.get(reverse("inventory:run_detail", args=[inv["finished"].pk])))
    assert "Retry failed units" not in run and "assume_role_failed" in run
    assert "AKIAALICE0000001" in _body(client.get(reverse("inventory:credential_list")))

    runs, sources_before = CollectionRun.objects.count(), Source.objects.count()
    denied = AuditEvent.objects.filter(event_type="access.denied").count()
    posts = [
        (reverse("inventory:source_collect", args=[inv["prod"].pk]), {}),
        (reverse("inventory:source_collect_all"), {}),
        (reverse("inventory:run_retry", args=[inv["finished"].pk]), {}),
        (
            reverse("inventory:source_edit", args=[inv["prod"].pk]),
            {"name": "pwned", "role_arn": inv["prod"].role_arn, "schedule_minutes": 60},
        ),
        (
            reverse("inventory:source_create"),
            {"kind": "azure_key_vault", "name": "x", "vault_url": "https://x.vault.azure.net/", "schedule_minutes": 60},
        ),
    ]
    for url, data in posts:
        assert client.post(url, data).status_code == 403, url
    assert CollectionRun.objects.count() == runs and Source.objects.count() == sources_before
    assert Source.objects.get(pk=inv["prod"].pk).name == "prod"
    assert AuditEvent.objects.filter(event_type="access.denied").count() == denied + len(posts)


def test_reviewer_sees_empty_lists_and_404_on_a_sources_pages(client, reviewer, inv):
    client.force_login(reviewer)
    for name in ("source_list", "run_list", "credential_list", "identity_list"):
        response = client.get(reverse(f"inventory:{name}"))
        assert response.status_code == 200 and response.context["page"].paginator.count == 0, name
    hidden = [
        reverse("inventory:source_detail", args=[inv["prod"].pk]),
        reverse("inventory:source_edit", args=[inv["prod"].pk]),
        reverse("inventory:run_detail", args=[inv["finished"].pk]),
        reverse("inventory:run_units", args=[inv["finished"].pk]),
        reverse("inventory:credential_detail", args=[inv["key"].pk]),
        reverse("inventory:identity_detail", args=[inv["alice"].pk]),
    ]
    for url in hidden:
        assert client.get(url).status_code == 404, url
    assert client.post(reverse("inventory:source_collect", args=[inv["prod"].pk])).status_code == 404
    assert client.post(reverse("inventory:run_retry", args=[inv["finished"].pk])).status_code == 404
    assert CollectionRun.objects.count() == 3
    denial = AuditEvent.objects.filter(event_type="access.denied").order_by("-seq").first()
    assert denial.actor == reviewer and denial.changes["permission"] == "inventory.view_source"
    body = _body(client.get(reverse("inventory:credential_list")))
    assert ">Inventory</a>" not in body  # no nav link for those who can view no source


def test_auditor_with_view_on_one_source_sees_only_that_source(client, auditor, inv):
    assign_perm("view_source", auditor, inv["vault"])
    client.force_login(auditor)
    creds = client.get(reverse("inventory:credential_list"))
    assert [c.name for c in creds.context["page"]] == ["db-password"]
    assert "AKIAALICE0000001" not in creds.content.decode()
    assert [s.name for s in client.get(reverse("inventory:source_list")).context["page"]] == ["vault"]
    assert client.get(reverse("inventory:identity_list")).context["page"].paginator.count == 0
    assert client.get(reverse("inventory:credential_detail", args=[inv["secret"].pk])).status_code == 200
    assert client.get(reverse("inventory:credential_detail", args=[inv["key"].pk])).status_code == 404
    assert client.get(reverse("inventory:identity_detail", args=[inv["alice"].pk])).status_code == 404
    assert client.get(reverse("inventory:source_detail", args=[inv["prod"].pk])).status_code == 404
    assert client.get(reverse("inventory:source_edit", args=[inv["vault"].pk])).status_code == 403

    # A run of both sources shows only the vault's unit; the first run (prod only) is hidden.
    runs = client.get(reverse("inventory:run_list")).context["page"]
    assert {r.pk for r in runs} == {inv["finished"].pk, inv["running"].pk}
    assert [(r.unit_total, r.unit_failed) for r in runs if r.pk == inv["finished"].pk] == [(1, 0)]
    run = _body(client.get(reverse("inventory:run_detail", args=[inv["finished"].pk])))
    assert "kv-one" in run and "aws_iam" not in run and "assume_role_failed" not in run
    first = CollectionRun.objects.exclude(pk__in=[inv["finished"].pk, inv["running"].pk]).get()
    assert client.get(reverse("inventory:run_detail", args=[first.pk])).status_code == 404


# --- sources: create, edit, collect ------------------------------------------------------


@pytest.mark.parametrize(
    "data, error",
    [
        (
            {"kind": "aws_account", "name": "bad", "role_arn": "arn:aws:iam::12345:user/bob", "schedule_minutes": 60},
            "Role ARN: expected arn:aws:iam::",
        ),
        (
            {
                "kind": "aws_account",
                "name": "bad",
                "role_arn": "arn:aws:iam::123456789012:role/ok",
                "regions": "eu-west-1, mars-north-9x",
                "schedule_minutes": 60,
            },
            "is not an AWS region name",
        ),
        (
            {"kind": "azure_key_vault", "name": "bad", "vault_url": "http://kv.vault.azure.net/", "schedule_minutes": 60},
            "Vault URL: expected https://",
        ),
        (
            {"kind": "azure_key_vault", "name": "bad", "vault_url": "https://kv.vault.azure.net/", "schedule_minutes": 5},
            "Schedule: collect between",
        ),
    ],
)
def test_source_create_shows_the_services_refusal_and_creates_nothing(client, grc_lead, data, error):
    client.force_login(grc_lead)
    response = client.post(reverse("inventory:source_create"), data)
    body = _body(response)
    assert error in body
    assert not Source.objects.exists() and not AuditEvent.objects.filter(event_type="source.created").exists()


def test_source_create_for_each_kind(client, grc_lead):
    client.force_login(grc_lead)
    response = client.post(
        reverse("inventory:source_create"),
        {
            "kind": "aws_account",
            "name": "prod",
            "role_arn": "arn:aws:iam::123456789012:role/keytrail",
            "external_id": "ext-1",
            "regions": "eu-west-1, us-east-1 eu-west-1",
            "schedule_minutes": 60,
            "vault_url": "https://ignored.vault.azure.net/",  # not a field of this kind: ignored
        },
    )
    aws = Source.objects.get(name="prod")
    assert response.status_code == 302 and response["Location"] == reverse("inventory:source_detail", args=[aws.pk])
    assert aws.regions == ["eu-west-1", "us-east-1"] and aws.aws_account_id == "123456789012" and aws.vault_url == ""
    client.post(
        reverse("inventory:source_create"),
        {"kind": "azure_key_vault", "name": "kv", "vault_url": "https://kv.vault.azure.net", "schedule_minutes": 1440},
    )
    assert Source.objects.get(name="kv").vault_url == "https://kv.vault.azure.net/"
    page = _body(client.get(reverse("inventory:source_detail", args=[aws.pk])))
    assert "source.created" in page  # history on the object


def test_source_edit_renames_and_disables(client, grc_lead, inv):
    client.force_login(grc_lead)
    prod = inv["prod"]
    response = client.post(
        reverse("inventory:source_edit", args=[prod.pk]),
        {
            "name": "production",
            "role_arn": prod.role_arn,
            "regions": "eu-west-1 eu-central-1",
            "schedule_minutes": 120,
        },
    )  # "enabled" unticked
    assert response.status_code == 302
    prod.refresh_from_db()
    assert (prod.name, prod.enabled, prod.regions, prod.schedule_minutes) == ("production", False, ["eu-west-1", "eu-central-1"], 120)
    page = _body(client.get(reverse("inventory:source_detail", args=[prod.pk])))
    assert "source.updated" in page and "Collect now" not in page  # disabled sources are not collected
    bad = client.post(
        reverse("inventory:source_edit", args=[prod.pk]), {"name": "vault", "role_arn": prod.role_arn, "schedule_minutes": 120}
    )
    assert "already exists" in _body(bad)


def test_collect_now_starts_a_run_and_shows_it(client, grc_lead, inv, django_capture_on_commit_callbacks):
    client.force_login(grc_lead)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("inventory:source_collect", args=[inv["prod"].pk]))
    run = CollectionRun.objects.order_by("-pk").first()
    assert response.status_code == 302 and response["Location"] == reverse("inventory:run_detail", args=[run.pk])
    assert run.requested_by == grc_lead and run.status == "pending" and len(callbacks) == 1  # units enqueued on commit
    assert sorted(run.units.values_list("scope", flat=True)) == ["aws_iam", "aws_secrets_manager:eu-west-1", "aws_ssm:eu-west-1"]
    page = _body(client.get(response["Location"]))
    assert 'hx-trigger="every 2s"' in page and '<progress max="3" value="0"' in page


def test_collect_all_and_a_disabled_source(client, grc_lead, inv, django_capture_on_commit_callbacks):
    client.force_login(grc_lead)
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(reverse("inventory:source_collect_all"))
    run = CollectionRun.objects.order_by("-pk").first()
    assert response["Location"] == reverse("inventory:run_detail", args=[run.pk])
    assert {u.source.name for u in run.units.select_related("source")} == {"prod", "vault"}
    Source.objects.filter(pk=inv["prod"].pk).update(enabled=False)
    response = client.post(reverse("inventory:source_collect", args=[inv["prod"].pk]), follow=True)
    assert "There is no enabled source to collect." in _body(response)
    assert CollectionRun.objects.count() == 4


def test_retry_failed_units(client, grc_lead, inv, django_capture_on_commit_callbacks):
    client.force_login(grc_lead)
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(reverse("inventory:run_retry", args=[inv["finished"].pk]))
    retry = CollectionRun.objects.get(retry_of=inv["finished"])
    assert response["Location"] == reverse("inventory:run_detail", args=[retry.pk])
    assert list(retry.units.values_list("scope", flat=True)) == ["aws_secrets_manager:eu-west-1"]
    refused = client.post(reverse("inventory:run_retry", args=[inv["running"].pk]), follow=True)
    assert "This run has not finished yet." in _body(refused)


def test_forms_need_the_csrf_token(grc_lead, inv):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(grc_lead)
    assert client.post(reverse("inventory:source_collect", args=[inv["prod"].pk])).status_code == 403
    assert CollectionRun.objects.count() == 3


# --- hostile cloud data ------------------------------------------------------------------


def test_hostile_cloud_strings_are_escaped_isolated_and_truncated_in_lists(client, grc_lead, inv):
    huge_name = "<img src=x onerror=alert(1)>" + "N" * 10_240
    cred = _credential(
        inv["prod"],
        huge_name,
        external_id="hostile",
        owner="\u202eevil<b>",
        tags=HOSTILE_TAGS,
        attributes={"<script>k</script>": '=HYPERLINK("http://x")'},
    )
    client.force_login(grc_lead)
    listing = _body(client.get(reverse("inventory:credential_list"), {"q": "hostile"}))
    assert "<img src=x" not in listing and "&lt;img src=x onerror=alert(1)&gt;" in listing
    assert "N" * 200 not in listing  # truncated in lists
    assert re.search(r'<td class="cloud" dir="auto">\u202eevil&lt;b&gt;</td>', listing)  # bidi override kept inside its cell

    detail = _body(client.get(reverse("inventory:credential_detail", args=[cred.pk])))
    assert "<script>" not in detail.split("</head>")[1] and "<img src=x" not in detail
    assert "&lt;script&gt;alert(&#x27;tag&#x27;)&lt;/script&gt;" in detail and "&lt;script&gt;k&lt;/script&gt;" in detail
    assert "=cmd|&#x27; /C calc&#x27;!A0" in detail and "=HYPERLINK(&quot;http://x&quot;)" in detail
    assert "Z" * 10_240 in detail and "N" * 10_240 in detail  # full on the detail page, wrapped by CSS
    assert re.search(r'<td class="cloud wrap" dir="auto">\u202eexe.txt</td>', detail)


def test_hostile_identity_data_is_escaped(client, grc_lead, inv):
    ident = _identity(
        inv["prod"],
        "<svg onload=alert(1)>",
        tags={"a": "<script>x</script>"},
        data={
            "groups": ["<b>g</b>"],
            "policies": [{"unexpected": "<i>shape</i>"}],
            "mfa_devices": ["<u>odd</u>"],
            "attributes": {"items": "<x>"},
        },
    )
    client.force_login(grc_lead)
    for url in (reverse("inventory:identity_list"), reverse("inventory:identity_detail", args=[ident.pk])):
        body = _body(client.get(url)).split("</head>")[1]
        assert "<svg" not in body and "<script>x" not in body and "<b>g" not in body and "<i>shape" not in body and "<u>odd" not in body


# --- filters and query counts ------------------------------------------------------------


def test_credential_filters(client, grc_lead, inv):
    client.force_login(grc_lead)

    def names(**params):
        return sorted(c.name for c in client.get(reverse("inventory:credential_list"), params).context["page"])

    assert names(credential_type="kv_secret") == ["db-password"]
    assert names(source=str(inv["prod"].pk)) == ["AKIAALICE0000001", "AKIAROBOT0000001"]
    assert names(presence="disappeared") == ["AKIAROBOT0000001"]
    assert names(presence="present") == ["AKIAALICE0000001", "db-password"]
    assert names(enabled="no") == ["AKIAROBOT0000001"]
    assert names(owner="missing") == ["AKIAROBOT0000001", "db-password"]
    assert names(q="vault.azure.net/secrets") == ["db-password"]  # external id
    assert names(source="junk", page="999") == ["AKIAALICE0000001", "AKIAROBOT0000001", "db-password"]
    partial = _body(client.get(reverse("inventory:credential_list"), {"q": "db"}, HTTP_HX_REQUEST="true"))
    assert "<html" not in partial and "db-password" in partial


def test_identity_filters(client, grc_lead, inv):
    client.force_login(grc_lead)

    def names(**params):
        return sorted(i.name for i in client.get(reverse("inventory:identity_list"), params).context["page"])

    assert names(kind="service") == ["ci-robot"]
    assert names(privileged="yes") == ["alice"] and names(mfa="no") == ["alice"]
    assert names(owner="missing") == ["ci-robot"]
    counts = {i.name: i.credential_count for i in client.get(reverse("inventory:identity_list")).context["page"]}
    assert counts == {"alice": 1, "ci-robot": 0}  # present credentials only


def test_list_pages_make_a_bounded_number_of_queries(client, grc_lead, auditor, inv, django_assert_max_num_queries):
    sources = [inv["prod"]] + [_source(f"acct-{n}", grc_lead) for n in range(4)]
    for n in range(60):
        source = sources[n % len(sources)]
        ident = _identity(source, f"user-{n}", owner="" if n % 3 else "o@example.test")
        _credential(source, f"AKIA{n:012d}", identity=ident, created_at=T0, last_used_at=T1, tags={"n": str(n)})
    for n in range(30):
        run = CollectionRunFactory(status="succeeded", requested_by=grc_lead, started_at=T0, finished_at=T1)
        _unit(run, sources[n % len(sources)], "aws_iam", "succeeded")
    assign_perm("view_source", auditor, inv["prod"])
    pages = ["credential_list", "identity_list", "source_list", "run_list"]
    for user in (grc_lead, auditor):
        client.force_login(user)
        for name in pages:
            with django_assert_max_num_queries(14):
                response = client.get(reverse(f"inventory:{name}"))
            assert response.status_code == 200
    client.force_login(grc_lead)
    assert len(client.get(reverse("inventory:credential_list")).context["page"]) == 50  # paginated by 50


def test_list_queries_do_not_grow_with_the_inventory_on_any_page(client, grc_lead, auditor, inv, django_assert_max_num_queries):
    """Page 1, a filtered view and the last page of the credential list, and the identity list,
    for one who sees every source and one given a source: the same queries at 33
    and at 273 credentials (a page then spans sources, and a late page sits deep inside one)."""
    sources = [inv["prod"], inv["vault"]] + [_source(f"acct-{n}", grc_lead) for n in range(3)]
    assign_perm("view_source", auditor, inv["prod"])
    assign_perm("view_source", auditor, sources[3])

    def grow(n):
        start = Credential.objects.count()
        for k in range(start, start + n):
            source = sources[k % len(sources)]
            ident = _identity(source, f"grown-{k}") if k % 2 else None
            _credential(source, f"grown-key-{k:04d}", identity=ident, enabled=k % 3 != 0, created_at=T0, last_used_at=T1)

    def pages():
        last = (Credential.objects.count() + 49) // 50
        return [
            reverse("inventory:credential_list"),
            reverse("inventory:credential_list") + "?enabled=yes&q=grown&owner=missing",
            reverse("inventory:credential_list") + f"?page={last}",
            reverse("inventory:identity_list"),
        ]

    for user in (grc_lead, auditor):  # warm the per-process caches (content types) so that both rounds start alike
        client.force_login(user)
        for url in pages():
            client.get(url)
    counts = []
    for n in (30, 240):
        grow(n)
        row = []
        for user in (grc_lead, auditor):
            client.force_login(user)
            for url in pages():
                with django_assert_max_num_queries(14) as queries:
                    assert client.get(url).status_code == 200
                row.append(len(queries.captured_queries))
        counts.append(row)
    assert counts[0] == counts[1], counts
    client.force_login(grc_lead)
    last = client.get(pages()[2]).context["page"]
    assert last.number == 6 and len(last) == 23 and last.paginator.count == 273
