from django.core.management.base import BaseCommand, CommandError

from apps.inventory.models import CollectionRun
from apps.inventory.reports import run_report_lines


class Command(BaseCommand):
    help = "Print a collection run's figures: sources, credentials by type, API calls by operation, errors, duration."

    def add_arguments(self, parser):
        parser.add_argument("run_id", nargs="?", type=int, help="default: the latest run")

    def handle(self, *args, run_id=None, **o):
        run = CollectionRun.objects.filter(pk=run_id).first() if run_id else CollectionRun.objects.order_by("-pk").first()
        if run is None:
            raise CommandError("no such collection run")
        for line in run_report_lines(run):
            self.stdout.write(line)
