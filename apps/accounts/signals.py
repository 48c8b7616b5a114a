from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from apps.audit import events


@receiver(user_logged_in)
def _on_login(sender, request, user, **kwargs):
    events.user_logged_in(user=user)


@receiver(user_login_failed)
def _on_login_failed(sender, credentials, request=None, **kwargs):
    events.user_login_failed(username=str(credentials.get("username", "")))
