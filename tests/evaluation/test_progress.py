"""Evaluations record their progress as they run: the dashboard shows a bar that refreshes
itself until the evaluation ends, and the ``evaluate`` command draws one on the terminal."""

import io

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from apps.core.progress import TerminalProgress
from apps.devtools.simulators.inventory import seed_inventory
from apps.evaluation.models import Evaluation
from apps.evaluation.services import evaluation_run, policy_current
from tests.factories import EvaluationFactory

pytestmark = pytest.mark.django_db


def test_an_evaluation_reports_every_phase_in_order(catalog, grc_lead):
    # Progress through the rules phase counts credentials judged or carried, chunk by chunk.
    seed_inventory(credentials=60, seed=3, now=timezone.now(), actor=grc_lead)
    seen = []
    evaluation = evaluation_run(progress_listener=seen.append)
    phases = [p["phase"] for p in seen]
    assert phases[0] == "loading" and phases[-1] == "writing" and "rules" in phases
    percents = [p["percent"] for p in seen]
    assert percents == sorted(percents) and percents[-1] == 90
    rules = [p for p in seen if p["phase"] == "rules"]
    assert rules[-1]["done"] == rules[-1]["total"] > 20
    evaluation.refresh_from_db()
    assert evaluation.progress["percent"] == 100


def test_the_dashboard_polls_a_running_evaluation_until_it_ends(client, grc_lead, catalog):
    running = EvaluationFactory(
        policy_version=policy_current(),
        as_of=timezone.now(),
        progress={"phase": "rules", "done": 13, "total": 26, "percent": 55},
        state="running",
        finished_at=None,
        counts={},
    )
    client.force_login(grc_lead)
    page = client.get(reverse("evaluation:dashboard")).content.decode()
    assert 'hx-trigger="every 2s"' in page and "rule 13 of 26" in page and 'value="55"' in page
    poll = reverse("evaluation:evaluation_progress", args=[running.pk])
    assert "HX-Refresh" not in client.get(poll, HTTP_HX_REQUEST="true")
    Evaluation.objects.filter(pk=running.pk).update(
        state="succeeded", finished_at=timezone.now(), progress={"phase": "done", "done": 1, "total": 1, "percent": 100}
    )
    finished = client.get(poll, HTTP_HX_REQUEST="true")
    assert finished["HX-Refresh"] == "true" and "every 2s" not in finished.content.decode()


def test_the_evaluate_command_draws_a_bar_on_a_terminal_and_lines_in_a_log(catalog):
    err = io.StringIO()
    call_command("evaluate", stdout=io.StringIO(), stderr=err)
    lines = err.getvalue().splitlines()
    assert lines[0].startswith("evaluating 0/100 (0%) loading") and "90/100 (90%) writing" in lines[-1]
    assert len(lines) <= 12  # a log gets a line per 10 %, not one per rule

    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty = Tty()
    bar = TerminalProgress(tty, label="x ")
    bar.update(5, 10, "units")
    bar.update(10, 10, "units")
    bar.close()
    assert tty.getvalue().count("\r") == 2 and "[" + "#" * 30 + "] 100% 10/10" in tty.getvalue()


def test_the_evaluate_command_carries_unless_told_cold(catalog, grc_lead):
    seed_inventory(credentials=40, seed=5, now=timezone.now(), actor=grc_lead)
    call_command("evaluate", stdout=io.StringIO(), stderr=io.StringIO())
    call_command("evaluate", stdout=io.StringIO(), stderr=io.StringIO())
    carried = Evaluation.objects.latest("pk")
    assert carried.carried > 0 and carried.state == Evaluation.State.SUCCEEDED
    call_command("evaluate", "--cold", stdout=io.StringIO(), stderr=io.StringIO())
    cold = Evaluation.objects.latest("pk")
    assert cold.carried == 0 and cold.judged == carried.carried + carried.judged
