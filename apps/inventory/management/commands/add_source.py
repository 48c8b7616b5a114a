from django.core.management.base import BaseCommand, CommandError

from apps.accounts.models import User
from apps.connectors.registry import source_kind_choices, source_specs
from apps.core.errors import KeytrailError
from apps.inventory.services.sources import source_create


def _option(setting_name: str) -> str:
    return "--" + setting_name.replace("_", "-")


class Command(BaseCommand):
    help = (
        "Register a source of any registered kind (an AWS account by the role ARN to assume, an Azure Key Vault by "
        "its URL...): --kind and that kind's settings. Without --kind, the kind whose required settings are given."
    )

    # Kept from before --kind existed: --aws-role-arn is --role-arn.
    ALIASES = {"role_arn": ["--aws-role-arn"]}

    def add_arguments(self, parser):
        parser.add_argument("--as", dest="actor", required=True, help="username of the GRC lead registering it")
        parser.add_argument("--name", required=True)
        parser.add_argument("--kind", choices=[value for value, _ in source_kind_choices()])
        seen = set()
        for spec in source_specs():
            for setting in spec.fields:
                if setting.derived or setting.name in seen:
                    continue
                seen.add(setting.name)
                help_text = f"{spec.kind.label}: {setting.help_text}" + (" (comma-separated)" if setting.many else "")
                parser.add_argument(
                    _option(setting.name), *self.ALIASES.get(setting.name, []), dest=setting.name, default=None, help=help_text
                )
        parser.add_argument("--schedule-minutes", type=int, default=1440)

    def handle(self, *args, **o):
        actor = User.objects.filter(username=o["actor"], is_active=True).first()
        if actor is None:
            raise CommandError(f"no active user {o['actor']!r}")
        spec = self._spec(o)
        settings = {}
        for setting in spec.fields:
            if setting.derived:
                continue
            value = o.get(setting.name) or ""
            settings[setting.name] = [v for v in value.split(",") if v.strip()] if setting.many else value
        try:
            source = source_create(actor=actor, name=o["name"], kind=spec.kind.value, schedule_minutes=o["schedule_minutes"], **settings)
        except KeytrailError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"source #{source.pk} {source.name} registered ({source.location})"))

    @staticmethod
    def _spec(o):
        specs = source_specs()
        if o["kind"]:
            return next(spec for spec in specs if spec.kind == o["kind"])
        given = [
            spec
            for spec in specs
            if all(o.get(s.name) for s in spec.fields if s.required and not s.derived)
            and any(o.get(s.name) for s in spec.fields if not s.derived)
        ]
        if len(given) != 1:
            needs = "; ".join(
                f"{spec.kind.label}: " + ", ".join(_option(s.name) for s in spec.fields if s.required and not s.derived) for spec in specs
            )
            raise CommandError(f"give --kind, or the required settings of exactly one kind ({needs})")
        return given[0]
