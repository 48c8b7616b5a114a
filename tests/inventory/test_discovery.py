"""Discovery end to end over real HTTP (moto's server): an AWS organisation's accounts and an
account's enabled regions become units of the same run, through the registry, the tasks
(eager) and PostgreSQL; what cannot be collected is named, and the run never says
"succeeded" for it."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.devtools.simulators.aws_organization import add_account, close_account, create_organization, remove_account
from apps.devtools.simulators.organisation import seed_aws_account
from apps.inventory.models import Credential, Source
from apps.inventory.scopes import source_scopes
from apps.inventory.services.collection import collection_start
from apps.inventory.services.sources import source_create
from tests.support.aws import FaultProxy
from tests.support.cloud import cloud, moto_server_url  # noqa: F401 - fixtures
from tests.support.hostile import TEXT, assert_escaped_html

pytestmark = pytest.mark.django_db

MANAGEMENT_ROLE = "arn:aws:iam::123456789012:role/keytrail-org"


def _collect(actor, sources, capture):
    with capture(execute=True):
        run = collection_start(actor=actor, sources=sources)
    run.refresh_from_db()
    return run


@pytest.fixture
def org(cloud):
    seed = create_organization(cloud.aws_url)
    for i, name in enumerate(("prod", "staging", "sandbox")):
        account = add_account(cloud.aws_url, seed, name)
        seed_aws_account(account, users=3, secrets_per_region=2, regions=["eu-west-1"], seed=10 + i, hostile=False)
    return seed


@pytest.fixture
def org_source(grc_lead, org):
    return source_create(
        actor=grc_lead,
        name="acme org",
        kind="aws_organization",
        role_arn=MANAGEMENT_ROLE,
        member_role_name="keytrail-reader",
        regions=["eu-west-1"],
    )


def test_an_organisation_run_collects_every_account_as_units_of_the_same_run(
    org_source, org, grc_lead, django_capture_on_commit_callbacks, capsys
):
    run = _collect(grc_lead, [org_source], django_capture_on_commit_callbacks)
    assert run.status == "succeeded", [(u.scope, u.errors) for u in run.units.all()]
    members = {m.source_key: m for m in Source.objects.filter(parent=org_source)}
    assert set(members) == {*org.accounts.values()}
    prod = members[org.accounts["prod"]]
    assert prod.name == f"acme org / prod ({org.accounts['prod']})" and prod.kind == "aws_account" and prod.enabled
    assert prod.role_arn == f"arn:aws:iam::{org.accounts['prod']}:role/keytrail-reader" and prod.regions == ["eu-west-1"]
    # One discovery unit, then each member's own units, spawned by it, in the same run.
    discovery = run.units.get(source=org_source)
    assert discovery.scope == "aws_organization" and discovery.spawned_by is None
    spawned = run.units.exclude(pk=discovery.pk)
    assert spawned.count() == 3 * len(members)  # IAM, Secrets Manager and Parameter Store per member
    assert set(spawned.values_list("spawned_by", flat=True)) == {discovery.pk}
    assert Credential.objects.filter(source=prod, credential_type="sm_secret").count() == 2
    assert Credential.objects.filter(source=prod, credential_type="access_key").exists()
    # The creator may see and collect the members; each registration is audited.
    assert grc_lead.has_perm("inventory.view_source", prod) and grc_lead.has_perm("inventory.run_collection", prod)
    assert AuditEvent.objects.filter(event_type="source.member_registered").count() == len(members)

    repeat = _collect(grc_lead, [org_source], django_capture_on_commit_callbacks)
    assert repeat.status == "succeeded" and Source.objects.filter(parent=org_source).count() == len(members)
    assert AuditEvent.objects.filter(event_type="source.member_registered").count() == len(members)
    call_command("run_report", str(repeat.pk))
    assert f"collection run #{repeat.pk}: succeeded" in capsys.readouterr().out


def test_a_member_role_that_cannot_be_assumed_fails_that_account_by_name(
    org_source, org, grc_lead, cloud, settings, django_capture_on_commit_callbacks
):
    proxy = FaultProxy(cloud.aws_url).start()
    settings.AWS_ENDPOINT_URL = proxy.url
    try:
        # The organisation role lists accounts; the sandbox account's role refuses us.
        proxy.inject(
            "error",
            match="AssumeRole",
            times=None,
            status=403,
            code="AccessDenied",
            message="not trusted",
            body=org.accounts["sandbox"].encode(),
        )
        run = _collect(grc_lead, [org_source], django_capture_on_commit_callbacks)
    finally:
        proxy.stop()
    assert run.status == "partial"
    failed = list(run.units.filter(status="failed").select_related("source"))
    assert failed and {u.source.source_key for u in failed} == {org.accounts["sandbox"]}
    assert all(u.errors[-1]["code"] == "assume_role_failed" and "not trusted" in u.errors[-1]["message"] for u in failed)
    assert run.units.filter(status="succeeded", source__source_key=org.accounts["prod"]).count() == 3


def test_closed_left_and_mistyped_accounts_are_named_never_skipped(
    org_source, org, grc_lead, cloud, django_capture_on_commit_callbacks, capsys
):
    _collect(grc_lead, [org_source], django_capture_on_commit_callbacks)
    staging, sandbox = org.accounts["staging"], org.accounts["sandbox"]
    close_account(cloud.aws_url, staging)
    remove_account(cloud.aws_url, org, sandbox)
    org_source.include_ids = [*org.accounts.values(), "999999999999"]
    org_source.save()
    run = _collect(grc_lead, [org_source], django_capture_on_commit_callbacks)

    discovery = run.units.get(source=org_source)
    codes = {(e["code"], e["item"]) for e in discovery.errors}
    assert ("account_not_assessed", staging) in codes and ("unknown_account", "999999999999") in codes
    members = {m.source_key: m for m in Source.objects.filter(parent=org_source)}
    # Not collected by the organisation any more: disabled (audited), their past kept.
    assert members[staging].enabled is False and members[sandbox].enabled is False
    assert Credential.objects.filter(source=members[sandbox]).exists()
    assert AuditEvent.objects.filter(event_type="source.member_updated").count() == 2
    assert not run.units.filter(source__source_key__in=[staging, sandbox]).exists()
    facts = discovery.snapshot.facts
    assert facts["left"] == [{"id": sandbox, "name": "sandbox"}]
    assert {a["id"] for a in facts["not_assessed"]} == {staging, "999999999999"}
    call_command("run_report", str(run.pk))
    out = capsys.readouterr().out
    assert "account_not_assessed" in out and "staging" in out and "999999999999" in out


def test_an_account_without_regions_collects_every_enabled_region(cloud, grc_lead, django_capture_on_commit_callbacks):
    source = source_create(actor=grc_lead, name="all regions", kind="aws_account", role_arn="arn:aws:iam::123456789012:role/keytrail")
    run = _collect(grc_lead, [source], django_capture_on_commit_callbacks)
    assert run.status == "succeeded", [(u.scope, u.errors) for u in run.units.all()]
    scopes = set(run.units.values_list("scope", flat=True))
    assert {"aws_iam", "aws_regions", "aws_secrets_manager:eu-west-1", "aws_secrets_manager:us-east-1"} <= scopes
    assert "aws_secrets_manager:ap-east-1" not in scopes  # an opt-in region that is not enabled
    # The secrets the cloud fixture seeded in both regions: before, an empty region list collected none.
    regions = set(Credential.objects.filter(source=source, credential_type="sm_secret").values_list("attributes__region", flat=True))
    assert regions == {"eu-west-1", "us-east-1"}
    # The coverage rule and the pages expect the discovered regions from now on.
    expected = dict((scope, connector) for connector, scope in source_scopes([source])[source.pk])
    assert expected["aws_secrets_manager:eu-west-1"] == "aws_secrets_manager" and expected["aws_regions"] == "aws_regions"


def test_a_region_listing_that_fails_never_lets_the_run_say_succeeded(cloud, grc_lead, settings, django_capture_on_commit_callbacks):
    source = source_create(actor=grc_lead, name="all regions", kind="aws_account", role_arn="arn:aws:iam::123456789012:role/keytrail")
    proxy = FaultProxy(cloud.aws_url).start()
    settings.AWS_ENDPOINT_URL = proxy.url
    try:
        proxy.fail("DescribeRegions", "error500")
        run = _collect(grc_lead, [source], django_capture_on_commit_callbacks)
    finally:
        proxy.stop()
    assert run.status == "partial"
    unit = run.units.get(scope="aws_regions")
    assert unit.status == "failed" and unit.errors[-1]["code"] == "service_unavailable"
    assert not run.units.filter(connector="aws_secrets_manager").exists()


@pytest.mark.hostile
def test_the_organisation_page_shows_each_account_and_its_health_escaped(
    org_source, org, grc_lead, cloud, client, settings, django_capture_on_commit_callbacks
):
    hostile = add_account(cloud.aws_url, org, TEXT["html_script"])
    seed_aws_account(hostile, users=1, secrets_per_region=0, regions=["eu-west-1"], seed=20, hostile=False)
    _collect(grc_lead, [org_source], django_capture_on_commit_callbacks)
    close_account(cloud.aws_url, org.accounts["staging"])
    proxy = FaultProxy(cloud.aws_url).start()
    settings.AWS_ENDPOINT_URL = proxy.url
    try:
        proxy.inject(
            "error",
            match="AssumeRole",
            times=None,
            status=403,
            code="AccessDenied",
            message="role not trusted",
            body=org.accounts["sandbox"].encode(),
        )
        _collect(grc_lead, [org_source], django_capture_on_commit_callbacks)
    finally:
        proxy.stop()

    client.force_login(grc_lead)
    page = client.get(reverse("inventory:source_detail", args=[org_source.pk])).content.decode()
    assert "Accounts of the organisation" in page and org.accounts["prod"] in page
    assert "not assessed" in page and "suspended" in page  # staging, closed
    assert "assume_role_failed" in page and "role not trusted" in page  # sandbox's role refuses us
    assert_escaped_html(page, [TEXT["html_script"]])
    listing = client.get(reverse("inventory:source_list")).content.decode()
    assert "account of acme org" in listing
    member = Source.objects.get(source_key=org.accounts["prod"], parent=org_source)
    assert "member account of organisation" in client.get(reverse("inventory:source_detail", args=[member.pk])).content.decode()


def test_the_api_registers_an_organisation_and_shows_its_accounts(org, cloud, grc_lead, django_capture_on_commit_callbacks):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(grc_lead)
    bad = api.post(
        reverse("api:source-list"),
        {"name": "org", "kind": "aws_organization", "role_arn": MANAGEMENT_ROLE, "member_role_name": "r", "include_ids": ["12345"]},
        format="json",
    )
    assert bad.status_code == 400 and "Include" in bad.content.decode()
    created = api.post(
        reverse("api:source-list"),
        {
            "name": "org",
            "kind": "aws_organization",
            "role_arn": MANAGEMENT_ROLE,
            "member_role_name": "keytrail-reader",
            "regions": ["eu-west-1"],
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    source = Source.objects.get(pk=created.json()["id"])
    assert created.json()["member_role_name"] == "keytrail-reader" and created.json()["parent"] is None
    close_account_id = org.accounts["staging"]
    _collect(grc_lead, [source], django_capture_on_commit_callbacks)
    close_account(cloud.aws_url, close_account_id)
    _collect(grc_lead, [source], django_capture_on_commit_callbacks)
    detail = api.get(reverse("api:source-detail", args=[source.pk])).json()
    accounts = {a["id"]: a for a in detail["organization"]["accounts"]}
    assert accounts[close_account_id]["decision"] == "not_assessed" and "suspended" in accounts[close_account_id]["reason"]
    prod = accounts[org.accounts["prod"]]
    assert prod["decision"] == "collect" and prod["health"] == "succeeded" and prod["member_source"]
    member = api.get(reverse("api:source-detail", args=[prod["member_source"]])).json()
    assert member["parent"] == source.pk and member["organization"] is None


def test_an_organisation_in_scope_brings_its_accounts_with_it(org_source, org, grc_lead, django_capture_on_commit_callbacks):
    from apps.inventory.as_of import sources_in_scope

    _collect(grc_lead, [org_source], django_capture_on_commit_callbacks)
    members = set(Source.objects.filter(parent=org_source).values_list("pk", flat=True))
    assert members and {s["id"] for s in sources_in_scope(ids=[org_source.pk])} == {org_source.pk, *members}


def test_the_source_form_registers_an_organisation_and_refuses_a_typo_by_field(client, grc_lead):
    client.force_login(grc_lead)
    url = reverse("inventory:source_create")
    form = client.get(url, {"kind": "aws_organization"}).content.decode()
    assert "Member role" in form and "Include" in form and "Exclude" in form
    data = {"kind": "aws_organization", "name": "acme", "schedule_minutes": 1440, "role_arn": MANAGEMENT_ROLE}
    refused = client.post(url, {**data, "member_role_name": "keytrail-reader", "include_ids": "12345678901"}).content.decode()
    assert "Include: &#x27;12345678901&#x27; is neither an account id" in refused and not Source.objects.exists()
    response = client.post(url, {**data, "member_role_name": "keytrail-reader", "include_ids": "ou-ab12-cdefgh34, 111111111111"})
    source = Source.objects.get(name="acme")
    assert response.status_code == 302 and source.include_ids == ["ou-ab12-cdefgh34", "111111111111"]
    assert source.kind == "aws_organization" and source.source_key == "123456789012"
