import time

from django.core.management.base import BaseCommand, CommandError

from apps.accounts.models import User
from apps.core.errors import KeytrailError
from apps.core.progress import TerminalProgress
from apps.inventory.models import CollectionRun, Source
from apps.inventory.reports import run_report_lines
from apps.inventory.services.collection import collection_enqueue_problem, collection_start


class Command(BaseCommand):
    help = "Collect one source (--source NAME) or all enabled sources; print the run's figures."

    def add_arguments(self, parser):
        parser.add_argument("--source", action="append", default=[], help="source name (repeatable); default: all enabled")
        parser.add_argument("--as", dest="actor", default="", help="username starting it (default: the scheduler)")
        parser.add_argument("--wait", type=float, default=600, help="seconds to wait for workers (ignored when eager)")

    def handle(self, *args, **o):
        sources = list(Source.objects.filter(name__in=o["source"])) if o["source"] else list(Source.objects.filter(enabled=True))
        missing = set(o["source"]) - {s.name for s in sources}
        if missing:
            raise CommandError(f"no source named {', '.join(sorted(missing))}")
        actor = None
        if o["actor"]:
            actor = User.objects.filter(username=o["actor"], is_active=True).first()
            if actor is None:
                raise CommandError(f"no active user {o['actor']!r}")
        try:
            run = collection_start(
                actor=actor, sources=sources, trigger=CollectionRun.Trigger.MANUAL if actor else CollectionRun.Trigger.SCHEDULE
            )
        except KeytrailError as exc:
            raise CommandError(str(exc)) from exc
        problem = collection_enqueue_problem(run)
        if problem:
            raise CommandError(problem)
        deadline = time.monotonic() + o["wait"]
        total = run.units.count()
        bar = TerminalProgress(getattr(self.stderr, "_out", self.stderr), label=f"run #{run.pk} ")
        while True:
            run.refresh_from_db()
            done = run.units.filter(status__in=["succeeded", "failed"]).count()
            failed = run.units.filter(status="failed").count()
            bar.update(done, total, f"units{f' ({failed} failed)' if failed else ''}")
            if run.is_finished or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        bar.close()
        for line in run_report_lines(run):
            self.stdout.write(line)
        if not run.is_finished:
            raise CommandError(f"run #{run.pk} still {run.status} after {o['wait']} s; workers running?")
