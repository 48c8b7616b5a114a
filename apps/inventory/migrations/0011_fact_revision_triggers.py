"""Fact revisions on credentials and identities, kept by database triggers
(apps/inventory/fact_revision.py, docs/adr/0018-fact-revisions.md). The column is not a
model field: only the triggers write it."""

from django.db import migrations

from apps.inventory import fact_revision


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0010_all_source_and_credential_kinds"),
    ]

    operations = [migrations.RunPython(fact_revision.install, fact_revision.uninstall, elidable=False)]
