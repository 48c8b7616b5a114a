"""Fact revisions (apps/inventory/fact_revision.py): every writer of every table the evaluation's
facts read changes them, on PostgreSQL and on SQLite (the demo)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from apps.devtools.simulators.inventory import seed_inventory
from apps.inventory.models import Credential
from tests.evaluation.fact_revision_checks import run_all

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_every_writer_of_every_fact_table_changes_the_revision_on_postgresql(catalog, grc_lead):
    run_all(grc_lead, seed_inventory)


SQLITE_SCRIPT = """
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from apps.accounts.models import User
from apps.devtools.simulators.inventory import seed_inventory
from apps.inventory.models import Credential
from tests.evaluation.fact_revision_checks import run_all
run_all(User.objects.create(username="lead", is_superuser=True), seed_inventory)
print("FACT REVISIONS OK")
"""


def test_every_writer_of_every_fact_table_changes_the_revision_on_sqlite(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'rev.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "CELERY_TASK_ALWAYS_EAGER": "true",
    }
    done = subprocess.run([sys.executable, "-c", SQLITE_SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and "FACT REVISIONS OK" in done.stdout, done.stderr[-3000:]


@pytest.fixture
def aws_source(db, grc_lead):
    from apps.inventory.models import Source
    from apps.inventory.services.sources import source_create

    return source_create(
        actor=grc_lead, name="prod", kind=Source.Kind.AWS_ACCOUNT, role_arn="arn:aws:iam::123456789012:role/keytrail-audit"
    )


@pytest.mark.django_db
def test_the_inventory_apply_changes_revisions_only_of_what_changed(aws_source):
    """The collection's writer: an unchanged collection leaves every revision (so the next
    evaluation can skip everything), a changed or vanished key changes its own and its identity's."""
    from tests.evaluation.fact_revision_checks import changed_by
    from tests.support.apply import apply as _apply
    from tests.support.apply import key as _key
    from tests.support.apply import result as _result

    _apply(aws_source, _result([_key(), _key("AKIAEXAMPLE2")]))
    key = Credential.objects.get(external_id="AKIAEXAMPLE1")
    other = Credential.objects.get(external_id="AKIAEXAMPLE2")
    cred, ident = ("credential", key.pk), ("identity", key.identity_id)
    assert changed_by(lambda: _apply(aws_source, _result([_key(), _key("AKIAEXAMPLE2")]))) == set()
    assert changed_by(lambda: _apply(aws_source, _result([_key(tags={"team": "b"}), _key("AKIAEXAMPLE2")]))) == {cred, ident}
    assert changed_by(lambda: _apply(aws_source, _result([_key(tags={"team": "b"}), _key("AKIAEXAMPLE2", enabled=False)]))) == {
        ("credential", other.pk),
        ident,
    }
    assert {cred, ident} <= changed_by(lambda: _apply(aws_source, _result([_key("AKIAEXAMPLE2", enabled=False)])))  # key 1 vanished
