"""Incremental evaluation: exactly the verdicts of a cold evaluation, on PostgreSQL and SQLite
(scenarios in tests/evaluation/incremental_scenarios.py); verdicts that read the clock are
carried only until the instant they state."""

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from apps.devtools.simulators.inventory import seed_inventory
from apps.evaluation.engine import run_rules
from apps.evaluation.exceptions import no_exceptions
from apps.evaluation.policy import default_policy
from apps.evaluation.rules.base import FOREVER, CredentialFacts, Rule, RuleContext, failed, holding_until, passed
from tests.evaluation.incremental_scenarios import run_all
from tests.factories import CampaignFactory, ExceptionRequestFactory

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_incremental_gives_the_cold_verdicts_after_every_kind_of_change_on_postgresql(catalog, grc_lead):
    results = run_all(grc_lead, seed_inventory, ExceptionRequestFactory, CampaignFactory)

    assert results[0][1] > results[0][2]  # a minute later with nothing changed: most subjects carried


SQLITE_SCRIPT = """
import django, sys
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from apps.accounts.models import User
from apps.catalog.loader import read_catalog
from apps.catalog.services import catalog_load
from apps.devtools.simulators.inventory import seed_inventory
from tests.evaluation.incremental_scenarios import run_all
from tests.factories import CampaignFactory, ExceptionRequestFactory
catalog_load(data=read_catalog())
actor = User.objects.create(username="lead", is_superuser=True)
for row in run_all(actor, seed_inventory, ExceptionRequestFactory, CampaignFactory):
    print(row)
print("SCENARIOS OK")
"""


def test_incremental_gives_the_cold_verdicts_on_sqlite(tmp_path):
    """The demo's database: the same scenarios against a freshly migrated SQLite file."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'incr.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "CELERY_TASK_ALWAYS_EAGER": "true",
    }
    done = subprocess.run([sys.executable, "-c", SQLITE_SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and "SCENARIOS OK" in done.stdout, done.stderr[-3000:]


class _ReadsTheClock(Rule):
    id, subject = "t-clock", "credential"

    def evaluate(self, c, ctx):
        return passed("young") if c.created_at > ctx.now - timedelta(days=10) else failed("old")


class _StatesUntil(Rule):
    id, subject = "t-until", "credential"

    def evaluate(self, c, ctx):
        return (
            holding_until(passed("young"), c.created_at + timedelta(days=10, microseconds=1))
            if c.created_at > ctx.now - timedelta(days=10)
            else failed("old")
        )


class _Timeless(Rule):
    id, subject = "t-timeless", "credential"

    def evaluate(self, c, ctx):
        return failed("no owner") if not c.owner else passed("owned")


class _Raises(Rule):
    id, subject = "t-raises", "credential"

    def evaluate(self, c, ctx):
        raise ValueError("bad value")


def _credential(cid: int, owner: str = "") -> CredentialFacts:
    created = NOW - timedelta(days=3)
    return CredentialFacts(cid, 1, "s", "kv_secret", f"e{cid}", f"n{cid}", "default", True, created, None, None, None, None, None,
                           None, None, None, None, owner, {}, {})  # fmt: skip


@pytest.mark.parametrize(
    ("rule", "until"),
    [
        (_ReadsTheClock(), NOW),  # read the clock without saying until when: judged again every time
        (_StatesUntil(), NOW - timedelta(days=3) + timedelta(days=10, microseconds=1)),
        (_Timeless(), FOREVER),  # never read the clock: holds while the facts hold
        (_Raises(), NOW),  # an error is judged again
    ],
)
def test_each_subject_holds_until_its_earliest_clock_bound_verdict(rule, until):
    holds: dict = {}
    run_rules(
        rules=[rule],
        subjects={"credential": [_credential(1)]},
        ctx=RuleContext(default_policy(), NOW),
        matcher=no_exceptions(NOW),
        holds=holds,
    )
    assert holds[("credential", 1)] == [until, 1]


def test_the_earliest_bound_wins_and_populations_are_bits_per_rule():
    holds: dict = {}
    rules = [_Timeless(), _StatesUntil(), _ReadsTheClock()]
    run_rules(
        rules=rules,
        subjects={"credential": [_credential(7, "me")]},
        ctx=RuleContext(default_policy(), NOW),
        matcher=no_exceptions(NOW),
        holds=holds,
    )
    assert holds[("credential", 7)] == [NOW, 0b111]


@pytest.mark.django_db
def test_every_rule_reads_the_same_until_the_instant_its_verdict_states(grc_lead):
    """For every registered rule and every seeded subject: a verdict that states ``until`` reads
    the same (status, reason, data) at any instant before it, here just before it and at points
    in between; a verdict that read the clock without stating it is judged again, which is safe."""
    import random

    from apps.evaluation.facts import load_facts
    from apps.evaluation.incremental import ClockWatch
    from apps.evaluation.rules.registry import all_rules

    seed_inventory(credentials=400, seed=21, now=NOW - timedelta(days=1), actor=grc_lead)
    policy = default_policy()
    facts = load_facts(policy=policy, now=NOW)
    subjects = {"credential": facts.credentials, "identity": facts.identities}
    rng = random.Random(5)
    checked = stated = 0
    for rule in all_rules():
        for subject in subjects.get(rule.subject, ()):
            if not rule.applies(subject):
                continue
            watch = ClockWatch(RuleContext(policy, NOW))
            verdict = rule.evaluate(subject, watch)
            checked += 1
            if not watch.read or verdict.until is None:
                continue
            stated += 1
            assert verdict.until > NOW, (rule.id, verdict)
            horizon = min(verdict.until, NOW + timedelta(days=800))
            last = horizon - timedelta(microseconds=1)
            instants = [last, *(min(last, NOW + (horizon - NOW) * rng.random()) for _ in range(3))]
            for at in instants:
                later = rule.evaluate(subject, RuleContext(policy, at))
                assert (later.status, later.reason, later.data) == (verdict.status, verdict.reason, verdict.data), (rule.id, at)
    assert checked > 1000 and stated > checked // 3


def test_hostile_values_fingerprint_without_error_and_apart():
    """Formulas, markup, bidi controls, lone surrogates, huge strings: every value fingerprints (a
    value orjson refuses falls back to its repr) and different values give different prints."""
    from apps.evaluation.incremental import credential_fingerprints
    from tests.support.hostile import TEXT

    values = [*TEXT.values(), "\ud800 lone surrogate"]
    credentials = []
    for n, value in enumerate(values, start=1):
        c = _credential(n, owner=value)
        c.tags = {value[:100]: value}
        credentials.append(c)
    prints = credential_fingerprints(credentials, {})
    assert len(set(prints.values())) == len(values)
    again = credential_fingerprints(credentials, {})
    assert again == prints


@pytest.mark.django_db
def test_a_failed_evaluation_keeps_no_findings_or_carry_rows_and_the_next_one_carries(catalog, grc_lead, monkeypatch):
    from apps.evaluation import judging, services
    from apps.evaluation.models import Evaluation, Finding, SubjectCarry

    seed_inventory(credentials=60, seed=4, now=NOW - timedelta(days=1), actor=grc_lead)
    first = services.evaluation_run(now=NOW)

    def boom(self):
        raise RuntimeError("disk full")

    with monkeypatch.context() as patch:
        patch.setattr(judging.ChunkJudge, "tallies", boom)
        with pytest.raises(RuntimeError):
            services.evaluation_run(now=NOW + timedelta(minutes=1))
    failed_one = Evaluation.objects.get(state="failed")
    assert "disk full" in failed_one.error
    assert not Finding.objects.filter(evaluation=failed_one).exists() and not SubjectCarry.objects.filter(evaluation=failed_one).exists()
    after = services.evaluation_run(now=NOW + timedelta(minutes=2))
    assert after.carried > 0 and after.counts["findings"] == first.counts["findings"]


@pytest.mark.django_db
def test_only_subjects_with_unchanged_revisions_and_no_clocked_facts_are_left_unread(catalog, grc_lead, monkeypatch):
    """The skip (docs/adr/0018-fact-revisions.md): an incremental evaluation reads the
    groups whose revision changed and the credentials with an open remediation (overdue with time
    alone), and nothing else that it can carry."""
    from apps.evaluation.judging import ChunkJudge
    from apps.evaluation.services import evaluation_run
    from apps.inventory.models import Credential
    from apps.reviews.models import Campaign, Remediation, ReviewItem

    seed_inventory(credentials=120, seed=3, now=NOW - timedelta(days=1), actor=grc_lead)
    present = Credential.objects.filter(disappeared_at__isnull=True)
    changed = present.filter(identity__isnull=False).order_by("id").first()
    loose = present.filter(identity__isnull=True).order_by("id").first()
    campaign = CampaignFactory(state=Campaign.State.SIGNED_OFF)
    item = ReviewItem.objects.create(
        campaign=campaign, source_id=loose.source_id, credential=loose, subject="s", facts={}, reviewer=grc_lead,
        assigned_by_rule="fallback", decision="revoke", decided_at=NOW, decided_by=grc_lead,
    )  # fmt: skip
    Remediation.objects.create(
        item=item, credential=loose, action="revoke", owner=grc_lead, due_date=(NOW + timedelta(days=1)).date(), decided_at=NOW
    )
    evaluation_run(now=NOW)
    Credential.objects.filter(pk=changed.pk).update(owner="new-owner@example.com")

    read: set[int] = set()
    chunk = ChunkJudge.chunk

    def reading(self, facts):
        read.update(c.id for c in facts.credentials)
        return chunk(self, facts)

    monkeypatch.setattr(ChunkJudge, "chunk", reading)
    incremental = evaluation_run(now=NOW + timedelta(minutes=1))
    siblings = set(present.filter(identity_id=changed.identity_id).values_list("id", flat=True))
    assert siblings | {loose.pk} <= read  # the changed group, the clocked credential
    assert len(read) < present.count() // 2  # the rest (but verdicts whose time ran out) unread
    assert incremental.carried > 0
