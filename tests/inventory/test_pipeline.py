"""Collection end to end over real HTTP: moto's server (two accounts, by AssumeRole) and two
HTTPS Key Vault simulators, through the registry, the tasks (eager) and PostgreSQL."""

import boto3
import pytest
from django.core.management import call_command
from django.db import connection

from apps.devtools.simulators.aws import iam_backend
from apps.devtools.simulators.organisation import SECRET_CANARY
from apps.inventory.models import CollectionRun, Credential, Identity, Snapshot
from apps.inventory.services.collection import collection_start
from tests.support.cloud import ACCOUNT_A, ACCOUNT_B, cloud, moto_server_url, register_sources  # noqa: F401

pytestmark = pytest.mark.django_db


def _collect(actor, sources, capture):
    with capture(execute=True):
        run = collection_start(actor=actor, sources=sources)
    run.refresh_from_db()
    return run


def test_first_and_repeat_collection(cloud, grc_lead, django_capture_on_commit_callbacks, capsys):
    sources = register_sources(grc_lead, cloud)
    run = _collect(grc_lead, sources, django_capture_on_commit_callbacks)
    assert run.status == "succeeded", [u.errors for u in run.units.all()]
    # IAM, SM and SSM per region, and each vault's secrets, keys and certificates
    assert run.units.count() == 14 and Snapshot.objects.filter(unit__run=run).count() == 14
    types = set(Credential.objects.values_list("credential_type", flat=True))
    assert types == {"access_key", "console_password", "sm_secret", "kv_secret", "root_access_key"}
    # Multi-account: both accounts' users, each under its own source.
    assert Identity.objects.filter(source=sources[0], kind="human").exists()
    assert Identity.objects.filter(source=sources[1], external_id__contains=ACCOUNT_B).exists()
    assert Credential.objects.filter(source=sources[1], credential_type="root_access_key").exists()
    facts = Snapshot.objects.get(unit__run=run, source=sources[1], scope="aws_iam").facts
    assert facts["password_policy"]["MinimumPasswordLength"] == 8 and facts["root"]["mfa_active"] is False

    repeat = _collect(grc_lead, sources, django_capture_on_commit_callbacks)
    assert repeat.status == "succeeded"
    for unit in repeat.units.all():
        assert unit.counts["changed"] == 0 and unit.counts["created"] == 0, unit.scope
        assert "ListAccessKeys" not in unit.api_calls and "list_secret_versions" not in unit.api_calls
    first_hashes = dict(Snapshot.objects.filter(unit__run=run).values_list("scope", "content_sha256"))
    assert dict(Snapshot.objects.filter(unit__run=repeat).values_list("scope", "content_sha256")) == first_hashes

    call_command("run_report", str(repeat.pk))
    out = capsys.readouterr().out
    assert f"collection run #{repeat.pk}: succeeded" in out and "API calls by operation" in out


def test_changes_in_the_cloud_become_lifecycle_events(cloud, grc_lead, django_capture_on_commit_callbacks):
    sources = register_sources(grc_lead, cloud)[:1]
    _collect(grc_lead, sources, django_capture_on_commit_callbacks)
    iam = boto3.client("iam", endpoint_url=cloud.aws_url, region_name="us-east-1")
    backend = iam_backend(ACCOUNT_A)
    user = next(u for u in backend.users.values() if len(u.access_keys) == 2)
    gone_key, kept_key = user.access_keys[0].access_key_id, user.access_keys[1].access_key_id
    iam.delete_access_key(UserName=user.name, AccessKeyId=gone_key)
    iam.update_access_key(
        UserName=user.name, AccessKeyId=kept_key, Status="Inactive" if user.access_keys[0].status == "Active" else "Active"
    )
    new_key = iam.create_access_key(UserName=user.name)["AccessKey"]["AccessKeyId"]

    run = _collect(grc_lead, sources, django_capture_on_commit_callbacks)
    assert run.status == "succeeded"
    assert Credential.objects.get(external_id=gone_key).disappeared_at is not None
    assert list(Credential.objects.get(external_id=gone_key).events.values_list("kind", flat=True)) == ["appeared", "disappeared"]
    assert Credential.objects.get(external_id=kept_key).events.last().kind in {"deactivated", "reactivated"}
    assert Credential.objects.get(external_id=new_key).events.get().kind == "appeared"


def test_a_failing_source_leaves_the_others_and_its_own_past_intact(cloud, grc_lead, django_capture_on_commit_callbacks):
    sources = register_sources(grc_lead, cloud)
    _collect(grc_lead, sources, django_capture_on_commit_callbacks)
    before = Credential.objects.filter(source=sources[2], disappeared_at__isnull=True).count()
    cloud.vaults[0].refuse_tokens = True  # the vault refuses our token
    run = _collect(grc_lead, sources, django_capture_on_commit_callbacks)
    assert run.status == "partial"
    failed = list(run.units.filter(status="failed"))  # the vault's secrets, keys and certificates units
    assert {u.connector for u in failed} == {"azure_key_vault", "azure_key_vault_keys", "azure_key_vault_certificates"}
    assert all(u.source == sources[2] and u.errors[-1]["code"] == "auth_refused" for u in failed)
    assert Credential.objects.filter(source=sources[2], disappeared_at__isnull=True).count() == before
    assert run.units.filter(status="succeeded").count() == 11


def test_secret_values_are_never_read(cloud, grc_lead, django_capture_on_commit_callbacks):
    sources = register_sources(grc_lead, cloud)
    run = _collect(grc_lead, sources, django_capture_on_commit_callbacks)
    calls = set().union(*(u.api_calls for u in run.units.all()))
    assert not {c for c in calls if "GetSecretValue" in c or c == "get_secret"}
    # The canary value moto holds for every secret is nowhere in the database.
    with connection.cursor() as cur:
        cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
        tables = [r[0] for r in cur.fetchall()]
        for table in tables:
            cur.execute(f'SELECT count(*) FROM "{table}" t WHERE t::text LIKE %s', [f"%{SECRET_CANARY}%"])
            assert cur.fetchone()[0] == 0, table
    assert CollectionRun.objects.count() == 1
