"""Reads of the evaluations themselves: the latest, the latest attempt, one, the list, the recent ones."""

from __future__ import annotations

from datetime import UTC

from django.db.models import QuerySet

from apps.controls.evidence_status import EVIDENCE_STATUSES
from apps.evaluation.models import Evaluation, Status

# Statuses of a requirement that no rule tests: what its controls' manual evidence shows.
MANUAL_EVIDENCE = EVIDENCE_STATUSES
FINDING_STATUSES = (Status.FAIL, Status.EXCEPTED, Status.NOT_ASSESSED)
TREND_LENGTH = 12


def latest_evaluation() -> Evaluation | None:
    """The newest evaluation that succeeded (what the posture pages show), or None."""
    return (
        Evaluation.objects.filter(state=Evaluation.State.SUCCEEDED)
        .select_related("policy_version__created_by", "requested_by")
        .order_by("-started_at", "-pk")
        .first()
    )


def latest_attempt() -> Evaluation | None:
    """The newest evaluation whatever its state (to say when one is running or failed)."""
    return Evaluation.objects.order_by("-started_at", "-pk").first()


def running_evaluation() -> Evaluation | None:
    """The newest evaluation still queued or running, if any (to disable "Evaluate now")."""
    return Evaluation.objects.filter(state=Evaluation.State.RUNNING).order_by("-pk").first()


def evaluation_get(*, pk: int) -> Evaluation:
    return Evaluation.objects.select_related("policy_version", "requested_by").get(pk=pk)


def evaluation_list() -> QuerySet[Evaluation]:
    return Evaluation.objects.select_related("policy_version", "requested_by").order_by("-started_at", "-pk")


def recent_evaluations(*, limit: int = TREND_LENGTH) -> list[Evaluation]:
    """The last ``limit`` succeeded evaluations, oldest first."""
    newest = list(Evaluation.objects.filter(state=Evaluation.State.SUCCEEDED).order_by("-started_at", "-pk")[:limit])
    return newest[::-1]


def evaluation_label(evaluation: Evaluation) -> str:
    return f"#{evaluation.pk} · {evaluation.as_of.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def display_status(status: str, rule_ids) -> str:
    """A requirement's status as shown: as stored (its rules' roll-up, or, when no rule tests it,
    evidenced / evidence missing / evidence stale). An evaluation stored before manual evidence
    was judged holds "not_assessed" for those requirements, which is what they were then."""
    return status
