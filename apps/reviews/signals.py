"""A reviewer deactivated mid-campaign: their undecided items go to each campaign's fallback."""

from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def _on_user_saved(sender, instance, created, **kwargs):
    if created or instance.is_active:
        return
    from apps.reviews.services import reviewer_deactivated

    reviewer_deactivated(user=instance)
