"""The demo, in one command: set up, seed a demo organisation, start its simulated cloud and a
Celery worker, serve the UI at once, and meanwhile collect, evaluate, record the demo's
registers and build an evidence pack in the background (their progress shows in the pages).
"""

from __future__ import annotations

import threading

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connections

from apps.catalog.loader import read_catalog
from apps.catalog.services import catalog_load
from apps.devtools.demo.cloud import start_demo_cloud
from apps.devtools.demo.evidence import build_demo_pack, seed_demo_engagement
from apps.devtools.demo.seed import DEMO_USERS, redo_demo_remediation, seed_demo, seed_demo_exceptions, seed_demo_reviews, seed_demo_sources
from apps.devtools.demo.worker import demo_worker, wait_until
from apps.evaluation.models import Evaluation
from apps.evaluation.reports import evaluation_summary_lines
from apps.evaluation.services import evaluation_run
from apps.inventory.models import CollectionRun
from apps.inventory.reports import run_report_lines
from apps.inventory.services.collection import collection_start


class Command(BaseCommand):
    help = "Set up and seed the demo organisation, then serve keytrail on http://127.0.0.1:8000."

    def add_arguments(self, parser):
        parser.add_argument("--no-serve", action="store_true", help="seed only (wait for the background work); do not serve")
        parser.add_argument("--addrport", default="127.0.0.1:8000")

    def handle(self, *args, no_serve: bool, addrport: str, **options):
        self.stdout.write("keytrail demo: migrating the database …")
        call_command("migrate", interactive=False, verbosity=0)
        summary = catalog_load(data=read_catalog())
        self.stdout.write(f"requirement catalog {summary.version} {'already loaded' if summary.unchanged else 'loaded'}")
        users = seed_demo()
        self.stdout.write(self.style.SUCCESS("demo organisation ready"))

        self.stdout.write("starting the simulated AWS accounts (moto) and Key Vaults …")
        cloud = start_demo_cloud()
        sources = seed_demo_sources(cloud=cloud)
        self.stdout.write(
            f"simulated AWS at {cloud.aws_url}; vaults at {', '.join(cloud.vault_urls.values())}; Microsoft Graph at {cloud.graph_url}"
        )
        redo_demo_remediation(cloud=cloud)  # keys revoked in the demo's review stay deleted across restarts
        self.stdout.write("")
        self.stdout.write(f"Sign in at http://{addrport}/ with one of these demo logins:")
        for du in DEMO_USERS:
            self.stdout.write(f"  {du.role:<10} {du.username:<8} {du.password}")
        if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
            self.stdout.write(f"database: {settings.DATABASES['default']['NAME']}")
        self.stdout.write("")

        failure: list[BaseException] = []
        with demo_worker():
            self.stdout.write("a Celery worker runs in this process; collection, evaluation and the pack continue in the background")
            background = threading.Thread(
                target=self._background, kwargs={"users": users, "cloud": cloud, "sources": sources, "failure": failure}, daemon=True
            )
            background.start()
            if no_serve:
                background.join()
            else:
                call_command("runserver", addrport, use_reloader=False)
        if failure:
            raise failure[0]

    def _background(self, *, users, cloud, sources, failure: list) -> None:
        try:
            self._populate(users=users, cloud=cloud, sources=sources)
        except BaseException as exc:  # noqa: BLE001 - reported to the console (and re-raised by --no-serve)
            failure.append(exc)
            self.stderr.write(f"demo background work failed: {type(exc).__name__}: {exc}")
        finally:
            connections.close_all()

    def _populate(self, *, users, cloud, sources) -> None:
        """Collect, evaluate, record the demo's exceptions and reviews and build a pack. Runs in a
        thread beside the web server; each long step is a task for the worker."""
        self.stdout.write("collecting credential metadata from every source (progress: Sources › Collection runs) …")
        run = collection_start(actor=users["grace"], sources=sources)
        wait_until(lambda: CollectionRun.objects.get(pk=run.pk).finished_at is not None, what=f"collection run #{run.pk}")
        run.refresh_from_db()
        for line in run_report_lines(run):
            self.stdout.write("  " + line)
        # The run's end queues an evaluation (config/pipeline.py); wait for it to finish.
        wait_until(
            lambda: not Evaluation.objects.filter(collection_run=run, state=Evaluation.State.RUNNING).exists(),
            what="the evaluation after the collection",
        )
        evaluation = Evaluation.objects.filter(collection_run=run).order_by("-pk").first()
        if evaluation is None or evaluation.state != Evaluation.State.SUCCEEDED:
            evaluation = evaluation_run(trigger=Evaluation.Trigger.MANUAL)
        if seed_demo_exceptions(evaluation=evaluation):
            evaluation = evaluation_run(trigger=Evaluation.Trigger.MANUAL)  # the approved exception now shows as excepted
            self.stdout.write("demo exceptions recorded (closed, approved and about to expire, awaiting a second approval, rejected)")
        if seed_demo_reviews(cloud=cloud, sources=sources):
            self.stdout.write(
                "demo access reviews recorded (one signed off with a revocation verified by a new collection, one in progress)"
            )
            # Signing off evaluated again: the review's decisions now count for 9.2.4.19.
            wait_until(lambda: not Evaluation.objects.filter(state=Evaluation.State.RUNNING).exists(), what="the evaluation")
            evaluation = Evaluation.objects.filter(state=Evaluation.State.SUCCEEDED).order_by("-pk").first() or evaluation
        self.stdout.write("")
        self.stdout.write("evaluated against the policy in force:")
        for line in evaluation_summary_lines(evaluation):
            self.stdout.write("  " + line)
        self.stdout.write("")
        engagement = seed_demo_engagement()
        self.stdout.write(f"building an evidence pack for “{engagement.name}” (shared with the auditor avery) …")
        pack = build_demo_pack(engagement=engagement)
        if pack.state == pack.State.SUCCEEDED:
            self.stdout.write(
                self.style.SUCCESS(f"evidence pack {pack.pack_id} built in {pack.timings.get('total')} s, SHA-256 {pack.sha256}")
            )
            self.stdout.write(f"  file: {pack.file.path}")
            self.stdout.write(f"  check it: python manage.py verify_pack {pack.file.path}")
        else:
            self.stdout.write(self.style.ERROR(f"evidence pack {pack.pack_id} failed: {pack.error}"))
        self.stdout.write(self.style.SUCCESS("demo ready: every background step has finished"))
