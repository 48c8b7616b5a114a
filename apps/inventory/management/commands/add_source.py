from django.core.management.base import BaseCommand, CommandError

from apps.accounts.models import User
from apps.core.errors import KeytrailError
from apps.inventory.models import Source
from apps.inventory.services.sources import source_create


class Command(BaseCommand):
    help = "Register a source: an AWS account (role ARN to assume) or an Azure Key Vault (URL)."

    def add_arguments(self, parser):
        parser.add_argument("--as", dest="actor", required=True, help="username of the GRC lead registering it")
        parser.add_argument("--name", required=True)
        sub = parser.add_mutually_exclusive_group(required=True)
        sub.add_argument("--aws-role-arn", help="arn:aws:iam::<account>:role/<name>")
        sub.add_argument("--vault-url", help="https://<vault>.vault.azure.net/")
        parser.add_argument("--external-id", default="")
        parser.add_argument("--regions", default="", help="Secrets Manager regions, comma-separated")
        parser.add_argument("--schedule-minutes", type=int, default=1440)

    def handle(self, *args, **o):
        actor = User.objects.filter(username=o["actor"], is_active=True).first()
        if actor is None:
            raise CommandError(f"no active user {o['actor']!r}")
        kind = Source.Kind.AWS_ACCOUNT if o["aws_role_arn"] else Source.Kind.AZURE_KEY_VAULT
        try:
            source = source_create(
                actor=actor, name=o["name"], kind=kind, role_arn=o["aws_role_arn"] or "", external_id=o["external_id"],
                regions=[r for r in o["regions"].split(",") if r.strip()], vault_url=o["vault_url"] or "",
                schedule_minutes=o["schedule_minutes"],
            )
        except KeytrailError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"source #{source.pk} {source.name} registered ({source.location})"))
