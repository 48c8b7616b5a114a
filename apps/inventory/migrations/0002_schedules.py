"""The periodic tasks django-celery-beat runs: start due collections, sweep lost units.

Each source's own schedule (Source.schedule_minutes) is checked every five minutes, so a
schedule changed in the UI needs no beat restart."""

from django.db import migrations

TASKS = [
    ("keytrail: collect due sources", "inventory.collect_due_sources", 5),
    ("keytrail: sweep collection units lost with their worker", "inventory.sweep_stale_units", 10),
]


def forward(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, minutes in TASKS:
        interval, _ = IntervalSchedule.objects.get_or_create(every=minutes, period="minutes")
        PeriodicTask.objects.update_or_create(name=name, defaults={"task": task, "interval": interval, "enabled": True})


def backward(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[t[0] for t in TASKS]).delete()


class Migration(migrations.Migration):
    dependencies = [("inventory", "0001_initial"), ("django_celery_beat", "0019_alter_periodictasks_options")]
    operations = [migrations.RunPython(forward, backward)]
