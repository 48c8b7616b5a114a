"""One source per cloud key: ``Source.source_key`` (AWS account id, vault URL) and a unique
constraint on (kind, source_key).

The data step fills ``source_key`` from each existing row the way its kind's spec derives it
(``source_spec(kind).source_key(config)``; for the kinds of this release: the AWS account id,
the vault URL). It never deletes or merges a source: when an existing database already holds
the same account (or vault) twice, the **oldest** source (lowest id) keeps the key and every
later duplicate gets ``"<key>#dup-<id>"``, which satisfies the constraint, stays visible, and
says what happened. Such a duplicate still collects as before (its settings are unchanged)
and can still be renamed or disabled (it stays marked while it names the same account);
pointed at another account it takes that account's key, and it is refused, by the name of
the source holding it, if it tries to take back a key in use. A row whose kind no
registered connector serves keeps a blank key (blank keys are not constrained).
"""

from django.db import migrations, models


def fill_source_keys(apps, schema_editor):
    from apps.connectors.base import SETTING_NAMES, SourceConfig
    from apps.connectors.registry import source_spec
    from apps.core.errors import ValidationFailed

    Source = apps.get_model("inventory", "Source")
    seen: set[tuple[str, str]] = set()
    for source in Source.objects.order_by("pk").iterator():
        values = {name: getattr(source, name) for name in SETTING_NAMES}
        values["regions"] = tuple(values["regions"] or ())
        try:
            key = source_spec(source.kind).source_key(SourceConfig(kind=source.kind, **values)) or ""
        except (ValidationFailed, NotImplementedError):
            key = ""
        key = key[:300]
        if key and (source.kind, key) in seen:
            suffix = f"#dup-{source.pk}"
            key = key[: 300 - len(suffix)] + suffix
        elif key:
            seen.add((source.kind, key))
        if key:
            Source.objects.filter(pk=source.pk).update(source_key=key)


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0004_list_order_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="source",
            name="source_key",
            field=models.CharField(blank=True, default="", max_length=300),
        ),
        migrations.RunPython(fill_source_keys, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="source",
            constraint=models.UniqueConstraint(
                condition=models.Q(("source_key", ""), _negated=True), fields=("kind", "source_key"), name="source_key_unique_per_kind"
            ),
        ),
    ]
