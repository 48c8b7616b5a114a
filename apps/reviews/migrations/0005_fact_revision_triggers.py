"""Review decisions, remediations and campaigns change their credentials' fact revisions
(apps/reviews/fact_revision.py, docs/adr/0018-fact-revisions.md)."""

from django.db import migrations

from apps.reviews import fact_revision


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0004_campaign_starting"),
        ("inventory", "0011_fact_revision_triggers"),
    ]

    operations = [migrations.RunPython(fact_revision.install, fact_revision.uninstall, elidable=False)]
