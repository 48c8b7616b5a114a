"""One source per AWS account or vault (issue #16): every door refuses a second registration
by name of the existing source, the database backs it, the migration keeps existing
duplicates (never deletes one), and the demo seeds twice without a second source."""

from __future__ import annotations

import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps as django_apps
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.core.errors import DuplicateSource
from apps.inventory.models import Source
from apps.inventory.services.sources import source_create, source_update
from tests.factories import SourceFactory
from tests.support.clients import api_as  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db

ROLE = "arn:aws:iam::123456789012:role/keytrail"
OTHER_ROLE = "arn:aws:iam::123456789012:role/another-role"  # same account, other role
TAKEN = "Role ARN: AWS account 123456789012 is already registered as source 'prod'."


@pytest.fixture
def prod(grc_lead):
    return source_create(actor=grc_lead, name="prod", kind="aws_account", role_arn=ROLE)


def test_service_refuses_the_same_account_twice_and_names_the_existing_source(grc_lead, prod):
    assert prod.source_key == "123456789012"
    with pytest.raises(DuplicateSource) as refused:
        source_create(actor=grc_lead, name="prod again", kind="aws_account", role_arn=OTHER_ROLE)
    assert str(refused.value) == TAKEN and refused.value.field == "role_arn"
    assert list(Source.objects.values_list("name", flat=True)) == ["prod"]
    assert AuditEvent.objects.filter(event_type="source.created").count() == 1
    # Another account is fine.
    source_create(actor=grc_lead, name="sandbox", kind="aws_account", role_arn="arn:aws:iam::210987654321:role/keytrail")


def test_service_refuses_moving_a_source_onto_a_registered_account(grc_lead, prod):
    sandbox = source_create(actor=grc_lead, name="sandbox", kind="aws_account", role_arn="arn:aws:iam::210987654321:role/keytrail")
    with pytest.raises(DuplicateSource, match=TAKEN):
        source_update(actor=grc_lead, source=sandbox, role_arn=OTHER_ROLE)
    sandbox.refresh_from_db()
    assert sandbox.source_key == "210987654321"
    # Changing a source's own role within its account is not a duplicate of itself.
    assert source_update(actor=grc_lead, source=prod, role_arn=OTHER_ROLE).source_key == "123456789012"


def test_same_vault_twice_is_refused(grc_lead):
    source_create(actor=grc_lead, name="kv", kind="azure_key_vault", vault_url="https://kv.vault.azure.net")
    with pytest.raises(DuplicateSource) as refused:
        source_create(actor=grc_lead, name="kv2", kind="azure_key_vault", vault_url="https://kv.vault.azure.net/")
    assert str(refused.value) == "Vault URL: Key Vault https://kv.vault.azure.net/ is already registered as source 'kv'."


def test_database_refuses_a_duplicate_key_that_skipped_the_check(grc_lead, prod):
    with pytest.raises(IntegrityError), transaction.atomic():
        Source.objects.create(name="raw", kind="aws_account", source_key="123456789012", created_by=grc_lead)
    # Blank keys (rows made outside the services) are not constrained.
    SourceFactory(source_key="")
    SourceFactory(source_key="")


def test_form_shows_the_refusal_on_the_role_arn_field(client, grc_lead, prod):
    client.force_login(grc_lead)
    response = client.post(
        reverse("inventory:source_create"),
        {"kind": "aws_account", "name": "prod again", "role_arn": OTHER_ROLE, "schedule_minutes": 60},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["role_arn"] == [TAKEN]
    assert "already registered as source &#x27;prod&#x27;" in response.content.decode()
    assert Source.objects.count() == 1


def test_api_answers_400_on_the_role_arn_field(api_as, grc_lead, prod):  # noqa: F811
    api = api_as(grc_lead)
    created = api.post(reverse("api:source-list"), {"name": "prod again", "kind": "aws_account", "role_arn": OTHER_ROLE}, format="json")
    assert created.status_code == 400
    assert created.json() == {"role_arn": [f"Nothing was changed: {TAKEN}"]}
    sandbox = source_create(actor=grc_lead, name="sandbox", kind="aws_account", role_arn="arn:aws:iam::210987654321:role/keytrail")
    patched = api.patch(reverse("api:source-detail", args=[sandbox.pk]), {"role_arn": OTHER_ROLE}, format="json")
    assert patched.status_code == 400 and patched.json()["role_arn"] == [f"Nothing was changed: {TAKEN}"]
    assert Source.objects.get(pk=sandbox.pk).aws_account_id == "210987654321"


def test_add_source_command_exits_with_the_message(grc_lead, prod):
    with pytest.raises(CommandError, match="AWS account 123456789012 is already registered as source 'prod'"):
        call_command("add_source", "--as", "grc", "--name", "prod again", "--role-arn", OTHER_ROLE)
    assert Source.objects.count() == 1


def test_migration_fills_keys_and_keeps_existing_duplicates(grc_lead):
    migration = importlib.import_module("apps.inventory.migrations.0005_source_key")
    first = SourceFactory(name="first", aws_account_id="123456789012", role_arn=ROLE)
    second = SourceFactory(name="second", aws_account_id="123456789012", role_arn=OTHER_ROLE)
    vault = SourceFactory(name="kv", kind="azure_key_vault", vault_url="https://kv.vault.azure.net/")
    other = SourceFactory(name="other", aws_account_id="210987654321", role_arn="arn:aws:iam::210987654321:role/x")

    migration.fill_source_keys(django_apps, None)

    keys = dict(Source.objects.values_list("name", "source_key"))
    assert keys == {
        "first": "123456789012",  # the oldest keeps the key
        "second": f"123456789012#dup-{second.pk}",  # kept, visibly marked, not deleted
        "kv": "https://kv.vault.azure.net/",
        "other": "210987654321",
    }
    assert {first.pk, second.pk, vault.pk, other.pk} == set(Source.objects.values_list("pk", flat=True))
    # The marked duplicate can still be renamed or disabled, and stays marked.
    kept = source_update(actor=grc_lead, source=Source.objects.get(pk=second.pk), name="second (duplicate)", enabled=False)
    assert kept.source_key == f"123456789012#dup-{second.pk}" and kept.enabled is False
    # Moved to another account it gets that account's key; it can never take the first's back.
    moved = source_update(actor=grc_lead, source=kept, role_arn="arn:aws:iam::333333333333:role/x")
    assert moved.source_key == "333333333333"
    with pytest.raises(DuplicateSource, match="already registered as source 'first'"):
        source_update(actor=grc_lead, source=moved, role_arn=ROLE)


def test_demo_sources_seed_twice_without_a_second_source_per_account():
    from apps.devtools.demo.seed import seed_demo, seed_demo_sources

    seed_demo()
    cloud = SimpleNamespace(vault_urls={"Payments vault": "https://127.0.0.1:1/", "Platform vault": "https://127.0.0.1:2/"})
    first = seed_demo_sources(cloud=cloud)
    registered = Source.objects.count()
    assert registered >= 4  # two AWS accounts, two vaults (and the AWS organisation)
    again = seed_demo_sources(cloud=cloud)
    assert [s.pk for s in again] == [s.pk for s in first] and Source.objects.count() == registered
    # A demo source renamed since is found by its account, not registered again.
    Source.objects.filter(pk=first[0].pk).update(name="renamed production")
    third = seed_demo_sources(cloud=cloud)
    assert third[0].pk == first[0].pk and Source.objects.count() == registered
