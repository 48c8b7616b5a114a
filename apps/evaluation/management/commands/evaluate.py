from django.core.management.base import BaseCommand

from apps.core.progress import TerminalProgress
from apps.evaluation.models import Evaluation
from apps.evaluation.reports import evaluation_summary_lines
from apps.evaluation.services import evaluation_run


class Command(BaseCommand):
    help = "Evaluate the present inventory against every rule and the policy in force; print the result."

    def add_arguments(self, parser):
        parser.add_argument(
            "--cold",
            action="store_true",
            help="judge every subject, carrying nothing from the previous evaluation (after a repair the "
            "fact-revision triggers cannot see, such as a TRUNCATE: docs/adr/0018-fact-revisions.md)",
        )

    def handle(self, *args, **options):
        bar = TerminalProgress(getattr(self.stderr, "_out", self.stderr), label="evaluating ")
        try:
            evaluation = evaluation_run(
                trigger=Evaluation.Trigger.MANUAL,
                progress_listener=lambda p: bar.update(p["percent"], 100, p["phase"]),
                incremental=not options["cold"],
            )
        finally:
            bar.close()
        for line in evaluation_summary_lines(evaluation):
            self.stdout.write(line)
