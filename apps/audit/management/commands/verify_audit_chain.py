from django.core.management.base import BaseCommand, CommandError

from apps.audit.chain import verify_chain
from apps.audit.models import AuditEvent


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain and report the first broken link."

    def add_arguments(self, parser):
        parser.add_argument("--expect-head", default="", help="head hash recorded elsewhere (e.g. in an evidence pack)")

    def handle(self, *args, **options):
        events = AuditEvent.objects.order_by("seq").iterator(chunk_size=2000)
        report = verify_chain(events, expect_head=options["expect_head"] or None)
        if not report.ok:
            raise CommandError(f"audit chain BROKEN after {report.checked} good events: {report.reason}")
        self.stdout.write(self.style.SUCCESS(f"audit chain intact: {report.checked} events, head {report.head_hash}"))
