"""The demo, in one command: set up, seed a demo organisation, start its simulated cloud,
collect, evaluate, build an evidence pack for the demo engagement, and serve the UI.
"""

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from apps.catalog.loader import read_catalog
from apps.catalog.services import catalog_load
from apps.devtools.demo.cloud import start_demo_cloud
from apps.devtools.demo.evidence import build_demo_pack, seed_demo_engagement
from apps.devtools.demo.seed import DEMO_USERS, redo_demo_remediation, seed_demo, seed_demo_exceptions, seed_demo_reviews, seed_demo_sources
from apps.evaluation.models import Evaluation
from apps.evaluation.reports import evaluation_summary_lines
from apps.evaluation.services import evaluation_run
from apps.inventory.reports import run_report_lines
from apps.inventory.services.collection import collection_start


class Command(BaseCommand):
    help = "Set up and seed the demo organisation, then serve keytrail on http://127.0.0.1:8000."

    def add_arguments(self, parser):
        parser.add_argument("--no-serve", action="store_true", help="seed only; do not start the web server")
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
        self.stdout.write(f"simulated AWS at {cloud.aws_url}; vaults at {', '.join(cloud.vault_urls.values())}")
        redo_demo_remediation(cloud=cloud)  # keys revoked in the demo's review stay deleted across restarts
        self.stdout.write("collecting credential metadata from every source …")
        run = collection_start(actor=users["grace"], sources=sources)  # eager: runs now
        run.refresh_from_db()
        for line in run_report_lines(run):
            self.stdout.write("  " + line)
        evaluation = Evaluation.objects.filter(collection_run=run).order_by("-pk").first()  # started by the run
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
        self.stdout.write("")
        self.stdout.write(f"Sign in at http://{addrport}/ with one of these demo logins:")
        for du in DEMO_USERS:
            self.stdout.write(f"  {du.role:<10} {du.username:<8} {du.password}")
        self.stdout.write("")
        if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
            self.stdout.write(f"database: {settings.DATABASES['default']['NAME']}")
        if not no_serve:
            call_command("runserver", addrport, use_reloader=False)
