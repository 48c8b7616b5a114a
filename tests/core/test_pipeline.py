"""The pipeline's one seam (apps/core/pipeline.py) and its one declaration (config/pipeline.py)."""

from __future__ import annotations

import logging

import pytest
from celery import Task
from django.db import transaction
from django.utils.module_loading import import_string

from apps.core import pipeline
from apps.core.pipeline import Step
from config import pipeline as declared


class Recorder:
    """Stands in for a Celery task's ``.delay``: what matters here is which steps the pipeline
    enqueues, with what, in which order, and when (after commit) — not Celery itself, which the
    worker tests exercise end to end."""

    calls: list[tuple[str, dict]] = []

    def __init__(self, name: str, fail: bool = False):
        self.name, self.fail = name, fail

    def delay(self, **kwargs):
        if self.fail:
            raise ConnectionError("broker unreachable")
        Recorder.calls.append((self.name, kwargs))


first = Recorder("first")
second = Recorder("second")
broken = Recorder("broken", fail=True)
HERE = __name__


@pytest.fixture
def steps(settings):
    Recorder.calls = []
    settings.KEYTRAIL_STEP_ON = True
    settings.KEYTRAIL_PIPELINE = {
        "thing.finished": (
            Step(f"{HERE}.first", args={"thing_id": "id"}, setting="KEYTRAIL_STEP_ON"),
            Step(f"{HERE}.second", args={"thing_id": "id"}, fixed={"why": "after"}, statuses=("succeeded", "partial")),
        ),
        "thing.broken": (Step(f"{HERE}.broken"), Step(f"{HERE}.second", fixed={"why": "still"})),
    }
    return settings


@pytest.mark.django_db(transaction=True)
def test_steps_run_in_declared_order_only_after_the_transaction_commits(steps):
    with transaction.atomic():
        enqueued = pipeline.publish("thing.finished", id=7, status="succeeded")
        assert Recorder.calls == []  # nothing leaves before the commit
    assert enqueued == [f"{HERE}.first", f"{HERE}.second"]
    assert Recorder.calls == [("first", {"thing_id": 7}), ("second", {"thing_id": 7, "why": "after"})]


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_transaction_enqueues_nothing(steps):
    with pytest.raises(RuntimeError), transaction.atomic():
        pipeline.publish("thing.finished", id=7, status="succeeded")
        raise RuntimeError("the step that published failed")
    assert Recorder.calls == []


@pytest.mark.django_db(transaction=True)
def test_conditions_by_setting_and_by_status(steps):
    assert pipeline.publish("thing.finished", id=1, status="failed") == [f"{HERE}.first"]
    steps.KEYTRAIL_STEP_ON = False
    assert pipeline.publish("thing.finished", id=2, status="partial") == [f"{HERE}.second"]
    assert Recorder.calls == [("first", {"thing_id": 1}), ("second", {"thing_id": 2, "why": "after"})]


@pytest.mark.django_db(transaction=True)
def test_a_step_that_cannot_be_enqueued_is_logged_and_the_rest_still_run(steps, caplog):
    with caplog.at_level(logging.ERROR, logger="apps.core.pipeline"):
        pipeline.publish("thing.broken")
    assert Recorder.calls == [("second", {"why": "still"})]
    assert f"could not start {HERE}.broken after thing.broken" in caplog.text


def test_an_undeclared_event_is_an_error_not_silence(steps):
    with pytest.raises(KeyError):
        pipeline.publish("thing.typo", id=1)


def test_the_declared_pipeline_names_real_tasks_and_plug_points():
    """config/pipeline.py is the product's flow: every step is a Celery task, given only
    keywords the task accepts, and the evaluation's plug points import."""
    assert set(declared.PIPELINE) == {
        "collection.finished",
        "review.signed_off",
        # Told to people and webhooks (apps.notifications).
        "review.assigned",
        "review.due_soon",
        "review.overdue",
        "exception.submitted",
        "exception.decided",
        "exception.expiring",
        "remediation.reopened",
    }
    for event, event_steps in declared.PIPELINE.items():
        assert event_steps, event
        for step in event_steps:
            task = import_string(step.task)
            assert isinstance(task, Task), step.task
            params = set(task.run.__code__.co_varnames[: task.run.__code__.co_argcount])
            assert set(step.args) | set(step.fixed) <= params, (event, step.task)
    assert [s.task for s in declared.PIPELINE["collection.finished"]] == [
        "apps.evaluation.tasks.evaluate",
        "apps.reviews.tasks.verify_remediation",
    ]
    # Every notification step names an event the notifications catalog knows, and every
    # event in the catalog is published by some step.
    from apps.notifications.notices import EVENTS

    told = {s.fixed["event"] for steps in declared.PIPELINE.values() for s in steps if s.task == "apps.notifications.tasks.notify"}
    assert told == set(EVENTS)
    assert callable(import_string(declared.EXCEPTION_MATCHER))
    assert callable(import_string(declared.REVIEW_FACTS))


def test_the_settings_use_the_declaration(settings):
    from django.conf import settings as live

    assert live.KEYTRAIL_PIPELINE is declared.PIPELINE
