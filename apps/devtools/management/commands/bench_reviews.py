"""Benchmark: a campaign of N items in a throwaway database.

    python manage.py bench_reviews --items 10000 [--decide 1000] [--json out.json]

Creates and migrates its own database (``<name>_bench_reviews``), seeds a synthetic inventory of N
credentials, starts a campaign over all of them, then times (with query counts) the start,
the campaign page as the GRC lead (first and last page) and as the reviewer, and one bulk
decision on ``--decide`` items posted through the view; drops the database at the end.
"""

from datetime import UTC, datetime, timedelta

from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse

from apps.accounts.roles import Role
from apps.accounts.services import user_create
from apps.devtools.bench import throwaway_database, timed, write_figures
from apps.devtools.simulators.inventory import seed_inventory
from apps.devtools.simulators.registers import busiest_reviewer
from apps.reviews import services
from apps.reviews.models import ReviewItem


class Command(BaseCommand):
    help = "Time a large access-review campaign: start, page render, bulk decision (with query counts), in a throwaway database."

    def add_arguments(self, parser):
        parser.add_argument("--items", type=int, default=10_000)
        parser.add_argument("--decide", type=int, default=1_000)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--json", default="", help="also write the figures to this file")

    def handle(self, *args, items: int, decide: int, seed: int, json: str, **options):
        with throwaway_database("bench_reviews"):
            figures = self._run(items, decide, seed)
        write_figures(self.stdout, f"access-review benchmark: {items:,} credentials, bulk decision on {decide:,}", figures, json)

    def _run(self, items: int, decide: int, seed: int) -> dict:
        grc = user_create(username="bench-grc", password="bench-only-password-1", role=Role.GRC_LEAD)
        reviewer = user_create(username="bench-reviewer", password="bench-only-password-1", role=Role.REVIEWER)
        seed_inventory(credentials=items, seed=seed, now=datetime.now(UTC), actor=grc)
        with transaction.atomic():
            draft = services.campaign_create(
                actor=grc, name="bench", scope={}, due_date=(datetime.now(UTC) + timedelta(days=14)).date(), fallback_reviewer=reviewer
            )
        campaign, start_s, start_q = timed(lambda: services.campaign_start(actor=grc, campaign=draft))
        client = Client(HTTP_HOST="localhost")
        client.force_login(grc)
        url = reverse("reviews:detail", args=[campaign.pk])
        client.get(url)  # warm templates and caches
        page, page_s, page_q = timed(lambda: client.get(url))
        assert page.status_code == 200
        last = (campaign.population_count + 99) // 100
        _, last_s, last_q = timed(lambda: client.get(f"{url}?page={last}"))
        busiest = busiest_reviewer(campaign)
        client.force_login(busiest)
        _, mine_s, mine_q = timed(lambda: client.get(f"{url}?per_page=1000"))
        ids = list(ReviewItem.objects.filter(campaign=campaign, reviewer=busiest).values_list("pk", flat=True)[:decide])
        response, bulk_s, bulk_q = timed(
            lambda: client.post(
                reverse("reviews:decide", args=[campaign.pk]), {"items": ids, "decision": "revoke", "justification": "bench: unused"}
            )
        )
        assert response.status_code == 302, response.status_code
        decided = ReviewItem.objects.filter(campaign=campaign, decision="revoke").count()
        return {
            "database": connection.vendor,
            "items": campaign.population_count,
            "start_seconds": start_s,
            "start_queries": start_q,
            "page_seconds (GRC lead, page 1 of 100 items)": page_s,
            "page_queries": page_q,
            "last_page_seconds": last_s,
            "last_page_queries": last_q,
            "reviewer_page_seconds (1,000 items per page)": mine_s,
            "reviewer_page_queries": mine_q,
            "bulk_decide_items": decided,
            "bulk_decide_seconds (POST incl. redirect)": bulk_s,
            "bulk_decide_queries": bulk_q,
        }
