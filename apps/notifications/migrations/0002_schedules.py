from django.db import migrations

# Due-soon / overdue review reminders and exception expiry reminders are scheduled by the
# reviews and exceptions_register migrations (each sends once per mark, or per day once
# overdue); they publish events that this app turns into e-mails and webhooks. This app's own
# beat task re-enqueues webhook retries that are long past due (a lost message, the demo).
TASKS = [("keytrail: retry webhook deliveries whose retry is past due", "notifications.retry_overdue", 5)]


def forward(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, minutes in TASKS:
        interval, _ = IntervalSchedule.objects.get_or_create(every=minutes, period="minutes")
        PeriodicTask.objects.update_or_create(name=name, defaults={"task": task, "interval": interval, "enabled": True})


def backward(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=[t[0] for t in TASKS]).delete()


class Migration(migrations.Migration):
    dependencies = [("notifications", "0001_initial"), ("django_celery_beat", "0019_alter_periodictasks_options")]
    operations = [migrations.RunPython(forward, backward)]
