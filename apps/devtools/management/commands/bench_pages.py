"""Benchmark: the server time and query count of the pages people use most, at the size of
the Scale issue, in a throwaway database.

    python manage.py bench_pages --credentials 20000 [--exceptions 400] [--requests 15] [--json out.json] [--profile DIR]

Creates and migrates its own database (``<name>_bench_pages``), seeds the synthetic
inventory (apps/devtools/simulators/inventory.py: 40 % access keys of half as many IAM users, 10 %
console passwords, 25 % Secrets Manager, 25 % Key Vault) and an exception register in mixed
states (apps/devtools/simulators/registers.py), evaluates (findings exist, the exceptions excuse some),
starts a campaign over every access key and console password (10,000 items at 20,000
credentials) and decides part of it, then runs ``VACUUM ANALYZE`` (what autovacuum does
shortly after bulk writes).

Each page is requested through Django's test client, so middleware, sessions, the MFA check
and templates all run, signed in as the person who uses it (with a verified second factor,
as production asks of GRC leads): ``--warmups`` requests first, then ``--requests`` timed
ones. Prints the median and 95th percentile server time, the median CPU time of this process
(steadier than wall time on a shared machine; PostgreSQL's time is not in it), the queries
of one request, and whether the 150 ms target of the Scale issue is met; drops the database
at the end.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.devtools.bench import throwaway_database, timed

TARGET_MS = 150


@dataclass
class PageFigures:
    page: str
    persona: str
    url: str
    median_ms: float
    p95_ms: float
    cpu_ms: float  # median CPU time of this process (Django's share; PostgreSQL's is not in it): less moved by other load
    queries: int
    queries_varied: bool  # the count differed between requests (it should not)
    status: int
    kb: float
    target_ms: int = TARGET_MS

    @property
    def met(self) -> bool:
        return self.median_ms <= self.target_ms


def signed_in(user) -> Client:
    """A client signed in as ``user`` with a verified TOTP device, as production asks of GRC
    leads and approvers (the MFA middleware's check runs on every request)."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.create(user=user, name="bench", confirmed=True)
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def measure(client: Client, url: str, *, page: str, persona: str, requests: int, warmups: int, profile_dir: str = "") -> PageFigures:
    """Time ``requests`` GETs of ``url`` after ``warmups`` untimed ones; p95 interpolated."""
    for _ in range(warmups):
        response = client.get(url)
        if response.status_code != 200:
            raise CommandError(f"{page}: GET {url} answered {response.status_code}")
    samples, cpu, counts = [], [], set()
    for _ in range(requests):
        with CaptureQueriesContext(connection) as queries:
            t0, c0 = time.perf_counter(), time.process_time()
            response = client.get(url)
            samples.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
        counts.add(len(queries))
    if profile_dir:
        _profile(client, url, Path(profile_dir) / f"{page.replace(' ', '_').replace('/', '-')}.html")
    p95 = statistics.quantiles(samples, n=20, method="inclusive")[18] if len(samples) > 1 else samples[0]
    return PageFigures(
        page=page,
        persona=persona,
        url=url,
        median_ms=round(statistics.median(samples), 1),
        p95_ms=round(p95, 1),
        cpu_ms=round(statistics.median(cpu), 1),
        queries=max(counts),
        queries_varied=len(counts) > 1,
        status=response.status_code,
        kb=round(len(response.content) / 1024, 1),
    )


def _profile(client: Client, url: str, path: Path) -> None:
    from pyinstrument import Profiler

    path.parent.mkdir(parents=True, exist_ok=True)
    profiler = Profiler(interval=0.0005)
    with profiler:
        client.get(url)
    path.write_text(profiler.output_html())


def _vacuum_analyze() -> None:
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


class Command(BaseCommand):
    help = "Time the inventory, findings, campaign and exception-register pages (median, p95, queries) at scale, in a throwaway database."

    def add_arguments(self, parser):
        parser.add_argument("--credentials", type=int, default=20_000, help="synthetic credentials (about 40 %% access keys)")
        parser.add_argument("--exceptions", type=int, default=400, help="exceptions in the register, in mixed states")
        parser.add_argument("--reviewers", type=int, default=60, help="reviewers owning identities (the rest goes to the fallback)")
        parser.add_argument("--decided", type=float, default=0.3, help="share of each reviewer's items already decided")
        parser.add_argument("--requests", type=int, default=15, help="timed requests per page")
        parser.add_argument("--warmups", type=int, default=2, help="untimed requests per page first")
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--json", default="", help="also write the figures to this file")
        parser.add_argument("--profile", default="", metavar="DIR", help="write a pyinstrument profile of one request per page to DIR")

    def handle(self, *args, **options):
        if connection.vendor != "postgresql":
            raise CommandError("bench_pages measures PostgreSQL: set DATABASE_URL=postgres://...")
        settings.DEBUG = False  # measure as production runs: DEBUG would log every query's SQL
        load_start = os.getloadavg()[0]
        with throwaway_database("bench_pages"):
            setup, pages = self._run(options)
        report = {
            "command": "bench_pages",
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "cpus": os.cpu_count(),
            "postgresql": setup.pop("postgresql"),
            "load_1m_start": round(load_start, 2),
            "load_1m_end": round(os.getloadavg()[0], 2),
            "requests_per_page": options["requests"],
            "warmups": options["warmups"],
            **setup,
            "pages": [{**asdict(p), "met": p.met} for p in pages],
        }
        self._print(report, pages)
        if options["json"]:
            Path(options["json"]).write_text(json.dumps(report, indent=2, default=str))
            self.stdout.write(f"figures written to {options['json']}")

    def _run(self, options) -> tuple[dict, list[PageFigures]]:
        from apps.catalog.loader import read_catalog
        from apps.catalog.services import catalog_load
        from apps.devtools.simulators import registers
        from apps.devtools.simulators.inventory import seed_inventory
        from apps.evaluation.models import Evaluation, Finding
        from apps.evaluation.services import evaluation_run
        from apps.inventory.models import Credential, Identity, Source

        seed, out = options["seed"], self.stdout.write
        catalog_load(data=read_catalog())
        cast = registers.people(reviewers=options["reviewers"], password=os.urandom(16).hex())
        out(f"seeding {options['credentials']:,} credentials …")
        _, seconds, _ = timed(
            lambda: seed_inventory(credentials=options["credentials"], seed=seed, now=datetime.now(UTC), actor=cast["grc"])
        )
        setup_seconds = {"inventory": seconds}
        out(f"  {seconds} s; exception register ({options['exceptions']}) …")
        states, seconds, _ = timed(lambda: registers.seed_exception_register(count=options["exceptions"], seed=seed, cast=cast))
        setup_seconds["exceptions"] = seconds
        out(f"  {seconds} s: {dict(states)}; evaluation …")
        evaluation, seconds, _ = timed(lambda: evaluation_run(trigger=Evaluation.Trigger.MANUAL))
        setup_seconds["evaluation"] = seconds
        out(f"  {seconds} s: {evaluation.counts}; campaign …")
        campaign, seconds, _ = timed(
            lambda: registers.seed_campaign(
                cast=cast, credential_types=["access_key", "console_password"], decided=options["decided"], seed=seed
            )
        )
        setup_seconds["campaign"] = seconds
        out(f"  {seconds} s: {campaign.population_count:,} items; VACUUM ANALYZE …")
        # Autovacuum would get there within a minute of these bulk writes (new rows past its
        # insert threshold): the pages are read against a settled database, with planner
        # statistics and the visibility map that index-only scans rely on.
        _, setup_seconds["vacuum_analyze"], _ = timed(_vacuum_analyze)

        # An auditor given one source (per-object permission): the narrowed inventory.
        from guardian.shortcuts import assign_perm

        from apps.accounts.roles import Role
        from apps.accounts.services import user_create

        auditor = user_create(username="bench-auditor", password=os.urandom(16).hex(), role=Role.AUDITOR)
        shared = Source.objects.order_by("pk").first()
        assign_perm("inventory.view_source", auditor, shared)

        busiest = registers.busiest_reviewer(campaign)
        top_ref = self._requirement_with_most_findings(evaluation)
        credentials = Credential.objects.count()
        identities = Identity.objects.count()
        last_credentials = (credentials + 49) // 50
        last_items = (campaign.population_count + 99) // 100
        findings = Finding.objects.filter(evaluation=evaluation).count()

        grc, reviewer, auditor_client = signed_in(cast["grc"]), signed_in(busiest), signed_in(auditor)
        detail = reverse("reviews:detail", args=[campaign.pk])
        plan = [
            ("credentials, page 1", "GRC lead", grc, reverse("inventory:credential_list")),
            (
                "credentials, filtered",
                "GRC lead",
                grc,
                reverse("inventory:credential_list") + "?credential_type=access_key&enabled=yes&presence=present&q=key+1",
            ),
            (
                f"credentials, last page ({last_credentials})",
                "GRC lead",
                grc,
                reverse("inventory:credential_list") + f"?page={last_credentials}",
            ),
            ("credentials, one source shared", "auditor", auditor_client, reverse("inventory:credential_list")),
            ("identities, page 1", "GRC lead", grc, reverse("inventory:identity_list")),
            ("findings, page 1", "GRC lead", grc, reverse("evaluation:finding_list")),
            ("findings, filtered", "GRC lead", grc, reverse("evaluation:finding_list") + "?status=fail&severity=high"),
            (f"sub-requirement {top_ref} with findings", "GRC lead", grc, reverse("evaluation:requirement", args=[top_ref])),
            (f"sub-requirement {top_ref} status", "GRC lead", grc, reverse("evaluation:requirement_status", args=[top_ref])),
            ("campaign, page 1", "GRC lead", grc, detail),
            (f"campaign, last page ({last_items})", "GRC lead", grc, f"{detail}?page={last_items}"),
            ("campaign, reviewer's items", "reviewer", reviewer, detail),
            ("campaign, reviewer's items, 1,000 per page", "reviewer", reviewer, f"{detail}?per_page=1000"),
            ("exception register", "GRC lead", grc, reverse("exceptions:list")),
        ]
        pages = []
        for page, persona, client, url in plan:
            out(f"measuring {page} …")
            pages.append(
                measure(
                    client,
                    url,
                    page=page,
                    persona=persona,
                    requests=options["requests"],
                    warmups=options["warmups"],
                    profile_dir=options["profile"],
                )
            )
        setup = {
            "postgresql": connection.pg_version,
            "setup_seconds": setup_seconds,
            "credentials": credentials,
            "identities": identities,
            "findings": findings,
            "exceptions": dict(states),
            "campaign_items": campaign.population_count,
            "busiest_reviewer_items": campaign.items.filter(reviewer=busiest).count(),
            "remediations": campaign.items.exclude(decision__in=["", "keep"]).count(),
        }
        return setup, pages

    @staticmethod
    def _requirement_with_most_findings(evaluation) -> str:
        from apps.evaluation.models import RequirementStatus

        top = (
            RequirementStatus.objects.filter(evaluation=evaluation)
            .select_related("requirement")
            .order_by("-failed", "-excepted", "requirement__ref")
            .first()
        )
        return top.requirement.ref

    def _print(self, report: dict, pages: list[PageFigures]) -> None:
        w = self.stdout.write
        w("")
        w(
            f"bench_pages {report['at']}: {report['credentials']:,} credentials, {report['identities']:,} identities, "
            f"{report['findings']:,} findings, {sum(report['exceptions'].values())} exceptions, {report['campaign_items']:,}-item campaign "
            f"({report['busiest_reviewer_items']:,} for the busiest reviewer, {report['remediations']:,} remediations)"
        )
        w(
            f"PostgreSQL {report['postgresql']}, {report['cpus']} CPUs, load 1 m {report['load_1m_start']} → {report['load_1m_end']}; "
            f"{report['requests_per_page']} timed requests per page after {report['warmups']} warm-ups"
        )
        width = max(len(p.page) for p in pages)
        w("")
        w(f"| {'page':<{width}} | as | median ms | p95 ms | CPU ms | queries | KB | target ms | met |")
        w(f"|{'-' * (width + 2)}|---|---|---|---|---|---|---|---|")
        for p in pages:
            varied = " (varied)" if p.queries_varied else ""
            w(
                f"| {p.page:<{width}} | {p.persona} | {p.median_ms} | {p.p95_ms} | {p.cpu_ms} | {p.queries}{varied} | {p.kb} | {p.target_ms} | "
                f"{'yes' if p.met else 'NO'} |"
            )
