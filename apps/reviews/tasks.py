from celery import shared_task

from apps.reviews.models import CampaignTemplate
from apps.reviews.remediation import remediation_verify
from apps.reviews.services import reviews_send_reminders, template_launch


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
