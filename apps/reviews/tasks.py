from celery import shared_task

from apps.accounts.models import User
from apps.core.errors import IllegalTransition, ValidationFailed
from apps.reviews.models import Campaign, CampaignTemplate
from apps.reviews.remediation import remediation_verify
from apps.reviews.services import campaign_start, campaign_start_fail, reviews_send_reminders, template_launch


@shared_task(name="reviews.verify_remediation", acks_late=True)
def verify_remediation(collection_run_id: int) -> dict:
    return remediation_verify(run_id=collection_run_id)


@shared_task(name="reviews.send_reminders")
def send_reminders() -> int:
    return reviews_send_reminders()


@shared_task(name="reviews.launch_template")
def launch_template(template_id: int) -> int | None:
    template = CampaignTemplate.objects.filter(pk=template_id).first()
    campaign = template_launch(template=template) if template else None
    return campaign.pk if campaign else None


@shared_task(name="reviews.start_campaign", acks_late=True)
def start_campaign(campaign_id: int, actor_id: int) -> int:
    """Freeze a campaign queued by ``campaign_start_request``; what the service refuses (the scope
    emptied meanwhile, the fallback reviewer deactivated) puts it back to draft with the reason.
    A redelivered message for a campaign no longer starting is left alone."""
    campaign = Campaign.objects.get(pk=campaign_id)
    if campaign.state != Campaign.State.STARTING:
        return campaign_id
    try:
        campaign_start(actor=User.objects.get(pk=actor_id), campaign=campaign)
    except (IllegalTransition, ValidationFailed) as exc:
        campaign_start_fail(campaign_pk=campaign_id, error=str(exc))
    return campaign_id
