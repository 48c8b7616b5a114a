"""Remove a user's authenticator devices (lost phone); audited as user.mfa_reset."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from apps.accounts import mfa


class Command(BaseCommand):
    help = "Reset a user's two-factor sign-in: they enrol a new authenticator app at their next sign-in."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--by", required=True, help="username of the administrator doing the reset (recorded)")

    def handle(self, *args, username: str, by: str, **options):
        User = get_user_model()
        try:
            user, actor = User.objects.get(username=username), User.objects.get(username=by, is_active=True)
        except User.DoesNotExist as exc:
            raise CommandError(f"no such user: {exc}") from exc
        if not actor.is_superuser and actor.pk != user.pk:
            raise CommandError(f"{by} is not an administrator")
        removed = mfa.reset(actor=actor, user=user)
        self.stdout.write(f"removed {removed} device(s) of {username}; they enrol again at next sign-in")
