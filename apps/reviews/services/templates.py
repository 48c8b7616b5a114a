"""Recurring campaigns: a template and its django-celery-beat schedule, and launching this
period's campaign from it."""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction

from apps.audit import events
from apps.core.errors import ValidationFailed
from apps.reviews.models import Campaign, CampaignTemplate, JustificationRule, UndecidedRule
from apps.reviews.services._common import MANAGE, clean_settings, current_date, require_perm
from apps.reviews.services.campaigns import campaign_create, campaign_start

logger = logging.getLogger(__name__)


_CRONTABS = {  # minute hour day_of_month month_of_year
    CampaignTemplate.Recurrence.MONTHLY: ("0", "6", "1", "*"),
    CampaignTemplate.Recurrence.QUARTERLY: ("0", "6", "1", "1,4,7,10"),
    CampaignTemplate.Recurrence.YEARLY: ("0", "6", "1", "1"),
}


@transaction.atomic
def template_save(
    *,
    actor,
    name: str,
    scope: dict,
    fallback_reviewer,
    recurrence: str,
    duration_days: int = 21,
    justification_rule: str = JustificationRule.ALL,
    undecided_rule: str = UndecidedRule.KEEP_FLAG,
    enabled: bool = True,
    template: CampaignTemplate | None = None,
) -> CampaignTemplate:
    """Create or update a recurring campaign and its django-celery-beat schedule."""
    import json

    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    require_perm(actor, MANAGE)
    values = clean_settings(
        name=name, scope=scope, fallback_reviewer=fallback_reviewer, justification_rule=justification_rule, undecided_rule=undecided_rule
    )
    if recurrence not in CampaignTemplate.Recurrence.values:
        raise ValidationFailed(f"Recurrence: choose one of {', '.join(CampaignTemplate.Recurrence.values)}.")
    if not 1 <= int(duration_days) <= 365:
        raise ValidationFailed("Duration: between 1 and 365 days.")
    created = template is None
    template = template or CampaignTemplate(created_by=actor)
    for key, value in {**values, "recurrence": recurrence, "duration_days": int(duration_days), "enabled": enabled}.items():
        setattr(template, key, value)
    template.save()
    minute, hour, day, month = _CRONTABS[recurrence]
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute=minute, hour=hour, day_of_month=day, month_of_year=month, day_of_week="*", timezone="UTC"
    )
    task, _ = PeriodicTask.objects.update_or_create(
        name=f"keytrail: access review template {template.pk}",
        defaults={
            "task": "reviews.launch_template",
            "crontab": crontab,
            "interval": None,
            "args": json.dumps([template.pk]),
            "enabled": enabled,
        },
    )
    if template.periodic_task_id != task.pk:
        template.periodic_task = task
        template.save(update_fields=["periodic_task"])
    events.campaign_template_saved(actor=actor, template=template, created=created)
    return template


def template_launch(*, template: CampaignTemplate, today: dt.date | None = None) -> Campaign | None:
    """Start this period's campaign from the template (the scheduler calls this). None when the
    template is disabled or its scope selects nothing (logged; the next period tries again)."""
    if not template.enabled:
        return None
    today = today or current_date()
    with transaction.atomic():
        try:
            campaign = campaign_create(
                actor=None,
                name=f"{template.name} {today:%Y-%m-%d}",
                scope=template.scope,
                due_date=today + dt.timedelta(days=template.duration_days),
                fallback_reviewer=template.fallback_reviewer,
                justification_rule=template.justification_rule,
                undecided_rule=template.undecided_rule,
                template=template,
            )
            return campaign_start(actor=None, campaign=campaign)
        except ValidationFailed as exc:
            logger.warning("recurring campaign %s not started: %s", template.pk, exc)
            return None
