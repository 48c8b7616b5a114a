from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from apps.audit import events


@receiver(user_logged_in)
def _on_login(sender, request, user, **kwargs):
    events.user_logged_in(user=user)


@receiver(user_login_failed)
def _on_login_failed(sender, credentials, request=None, **kwargs):
    events.user_login_failed(username=str(credentials.get("username", "")))


@receiver(user_locked_out)
def _on_locked_out(sender, request, username, ip_address, **kwargs):
    events.user_locked_out(username=str(username or ""), ip_address=str(ip_address or ""))
