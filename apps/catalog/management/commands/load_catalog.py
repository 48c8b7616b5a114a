from django.core.management.base import BaseCommand, CommandError

from apps.catalog.loader import DEFAULT_CATALOG, CatalogError, read_catalog
from apps.catalog.services import catalog_load


class Command(BaseCommand):
    help = "Load (or update) the requirement catalog from its YAML file. Idempotent."

    def add_arguments(self, parser):
        parser.add_argument("path", nargs="?", default=str(DEFAULT_CATALOG))

    def handle(self, *args, path, **options):
        try:
            summary = catalog_load(data=read_catalog(path))
        except CatalogError as exc:
            raise CommandError(str(exc)) from exc
        if summary.unchanged:
            self.stdout.write(f"catalog version {summary.version} already loaded; nothing changed")
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"catalog version {summary.version} loaded: {summary.created} created, {summary.updated} updated, {summary.retired} retired"
                )
            )
