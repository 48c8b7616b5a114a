"""Manual-evidence status of a requirement no rule tests: evidenced, evidence missing, evidence
stale — one definition (apps/controls/evidence_status.py) for the evaluation and the pack."""

import datetime as dt

import pytest

from apps.controls.evidence_status import EVIDENCE_STATUSES, manual_evidence_status
from apps.controls.services import control_create, control_evidence_attach
from apps.evaluation.models import RequirementState, RequirementStatus
from apps.evaluation.reports import evaluation_summary_lines
from apps.evaluation.services import evaluation_run

ON = dt.date(2026, 12, 2)


@pytest.mark.parametrize(
    ("evidence", "period_start", "expected"),
    [
        ([], None, "evidence_missing"),  # no control, or controls without files
        ([(ON - dt.timedelta(days=30), "quarterly")], None, "evidenced"),
        ([(ON - dt.timedelta(days=92), "quarterly")], None, "evidenced"),  # the last day of the cycle still counts
        ([(ON - dt.timedelta(days=93), "quarterly")], None, "evidence_stale"),
        ([(ON - dt.timedelta(days=200), "annual")], None, "evidenced"),
        ([(ON - dt.timedelta(days=40), "monthly"), (ON - dt.timedelta(days=300), "annual")], None, "evidenced"),  # any current file
        ([(ON - dt.timedelta(days=40), "continuous")], None, "evidence_stale"),
        ([(ON + dt.timedelta(days=1), "annual")], None, "evidence_missing"),  # dated after the day: speaks for nothing yet
        ([(dt.date(2025, 12, 20), "annual")], dt.date(2026, 1, 1), "evidence_missing"),  # before the audit period
        ([(dt.date(2026, 1, 5), "quarterly")], dt.date(2026, 1, 1), "evidence_stale"),  # in the period, but old
    ],
)
def test_the_status_from_the_controls_evidence(evidence, period_start, expected):
    assert manual_evidence_status(evidence, on=ON, period_start=period_start) == expected


def test_every_manual_status_is_a_stored_requirement_state():
    assert set(EVIDENCE_STATUSES) <= set(RequirementState.values)


@pytest.mark.django_db
def test_an_evaluation_stores_what_the_manual_evidence_shows(catalog, grc_lead):
    by_ref = {r.ref: r for r in catalog}
    manual = [r for r in catalog if not r.rule_ids]
    assert len(manual) >= 3, "the catalog must hold requirements no rule tests"
    current, old, empty = manual[0], manual[1], manual[2]
    today = dt.date.today()
    fresh = control_create(actor=grc_lead, title="Policy", owner=grc_lead, narrative="n", requirements=[current], test_frequency="annual")
    control_evidence_attach(actor=grc_lead, control=fresh, name="policy.txt", content=b"policy", effective_date=today)
    aged = control_create(actor=grc_lead, title="Training", owner=grc_lead, narrative="n", requirements=[old], test_frequency="monthly")
    control_evidence_attach(
        actor=grc_lead, control=aged, name="training.csv", content=b"a,b\n1,2\n", effective_date=today - dt.timedelta(days=90)
    )
    control_create(actor=grc_lead, title="No files yet", owner=grc_lead, narrative="n", requirements=[empty])
    evaluation = evaluation_run(trigger="manual")
    stored = dict(RequirementStatus.objects.filter(evaluation=evaluation).values_list("requirement__ref", "status"))
    assert stored[current.ref] == "evidenced"
    assert stored[old.ref] == "evidence_stale"
    assert stored[empty.ref] == "evidence_missing"
    assert all(stored[r.ref] == "evidence_missing" for r in manual[3:])  # no control at all
    assert all(stored[ref] not in EVIDENCE_STATUSES for ref, r in by_ref.items() if r.rule_ids)
    lines = "\n".join(evaluation_summary_lines(evaluation))  # the command line says the same words
    assert f"{current.ref}  evidenced" in lines and f"{old.ref}  evidence stale" in lines and f"{empty.ref}  evidence missing" in lines
