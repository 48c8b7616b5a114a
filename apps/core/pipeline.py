"""The pipeline's one seam: a finished step publishes an event; what follows is declared elsewhere.

A lower layer never enqueues a higher layer's task. When a collection run ends or a review
campaign is signed off, the service calls :func:`publish` with the event's name and ids. The
follow-up steps subscribed to each event, in order, are declared in ``config/pipeline.py``
(``settings.KEYTRAIL_PIPELINE``): that module is where a reader finds the whole flow
sources → collection → inventory → evaluation → registers → pack.

Each step is a Celery task named by dotted path, enqueued after the publishing transaction
commits (``transaction.on_commit``). A step that cannot be enqueued (broker down) is logged
and does not undo what was committed: the next run of the same event catches up.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Step:
    """One follow-up of an event.

    ``task``: dotted path of a Celery task. ``args``: which of the event's values it is given,
    as ``{task keyword: event key}``. ``fixed``: constant keywords. ``setting``: a boolean
    setting that must be true for the step to run. ``statuses``: when set, the step runs only
    if the event's ``status`` is one of them.
    """

    task: str
    args: Mapping[str, str] = field(default_factory=dict)
    fixed: Mapping[str, Any] = field(default_factory=dict)
    setting: str | None = None
    statuses: tuple[str, ...] | None = None

    def applies(self, payload: Mapping[str, Any]) -> bool:
        if self.setting is not None and not getattr(settings, self.setting):
            return False
        return self.statuses is None or payload.get("status") in self.statuses

    def kwargs(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        return {**self.fixed, **{name: payload[key] for name, key in self.args.items()}}


def steps_for(event: str) -> tuple[Step, ...]:
    """The steps subscribed to ``event``; KeyError for an event nobody declared (a typo)."""
    return tuple(settings.KEYTRAIL_PIPELINE[event])


def publish(event: str, **payload: Any) -> list[str]:
    """Enqueue ``event``'s follow-up steps once the current transaction commits (at once when
    there is none). Returns the dotted paths of the steps that apply."""
    steps = [step for step in steps_for(event) if step.applies(payload)]
    for step in steps:
        transaction.on_commit(lambda step=step: _enqueue(event, step, payload))
    return [step.task for step in steps]


def _enqueue(event: str, step: Step, payload: Mapping[str, Any]) -> None:
    try:
        import_string(step.task).delay(**step.kwargs(payload))
    except Exception:  # noqa: BLE001 - what published the event stands; the next occurrence catches up
        logger.exception("could not start %s after %s %s", step.task, event, dict(payload))
