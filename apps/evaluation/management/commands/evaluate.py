from django.core.management.base import BaseCommand

from apps.core.progress import TerminalProgress
from apps.evaluation.models import Evaluation
from apps.evaluation.reports import evaluation_summary_lines
from apps.evaluation.services import evaluation_run


class Command(BaseCommand):
    help = "Evaluate the present inventory against every rule and the policy in force; print the result."

    def handle(self, *args, **options):
        bar = TerminalProgress(getattr(self.stderr, "_out", self.stderr), label="evaluating ")
        try:
            evaluation = evaluation_run(
                trigger=Evaluation.Trigger.MANUAL, progress_listener=lambda p: bar.update(p["percent"], 100, p["phase"])
            )
        finally:
            bar.close()
        for line in evaluation_summary_lines(evaluation):
            self.stdout.write(line)
