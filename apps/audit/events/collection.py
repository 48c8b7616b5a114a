"""Audit events: what the machine does: sources and collection, evaluation. One function per event type (see the package)."""

from __future__ import annotations

from apps.audit.services import audit_record


# inventory ----------------------------------------------------------------
def source_created(*, actor, source, values: dict) -> None:
    audit_record(event_type="source.created", actor=actor, target=source, changes={k: [None, v] for k, v in values.items()})


def source_updated(*, actor, source, changes: dict) -> None:
    audit_record(event_type="source.updated", actor=actor, target=source, changes=changes)


def source_member_registered(*, organization, source, values: dict) -> None:
    """An organisation's collection registered one of its accounts as a member source."""
    audit_record(
        event_type="source.member_registered",
        actor_label="system:worker",
        target=source,
        changes={"organization": [None, organization.name], **{k: [None, v] for k, v in values.items()}},
    )


def source_member_updated(*, organization, source, changes: dict) -> None:
    """An organisation's collection changed a member source (settings, or enabled as the
    account is collected or no longer is: excluded, suspended, gone from the organisation)."""
    audit_record(
        event_type="source.member_updated",
        actor_label="system:worker",
        target=source,
        changes={"organization": organization.name, **changes},
    )


def collection_started(*, actor, run, sources: list[str], units: int) -> None:
    audit_record(
        event_type="collection.started", actor=actor, target=run, changes={"trigger": run.trigger, "sources": sources, "units": units}
    )


def collection_unit_succeeded(*, unit, counts: dict, api_calls: dict, item_errors: int) -> None:
    audit_record(
        event_type="collection.unit_succeeded",
        actor_label="system:worker",
        target=unit.run,
        changes={
            "source": unit.source.name,
            "scope": unit.scope,
            "counts": counts,
            "api_calls": sum(api_calls.values()),
            "item_errors": item_errors,
            "snapshot": unit.snapshot.content_sha256,
        },
    )


def collection_unit_failed(*, unit, code: str, message: str) -> None:
    audit_record(
        event_type="collection.unit_failed",
        actor_label="system:worker",
        target=unit.run,
        changes={"source": unit.source.name, "scope": unit.scope, "code": code, "message": message[:500], "attempts": unit.attempts},
    )


def collection_finished(*, run, status: str, summary: dict) -> None:
    audit_record(event_type="collection.finished", actor_label="system:worker", target=run, changes={"status": status, **summary})


# evaluation ---------------------------------------------------------------
def policy_updated(*, actor, policy_version, changes: dict, comment: str) -> None:
    audit_record(event_type="policy.updated", actor=actor, target=policy_version, changes=changes, message=comment)


def evaluation_completed(*, actor, evaluation) -> None:
    audit_record(
        event_type="evaluation.completed",
        actor=actor,
        actor_label="" if actor else "system:worker",
        target=evaluation,
        changes={"policy_version": evaluation.policy_version.version, **evaluation.counts},
    )


def evaluation_failed(*, actor, evaluation, error: str) -> None:
    audit_record(
        event_type="evaluation.failed",
        actor=actor,
        actor_label="" if actor else "system:worker",
        target=evaluation,
        changes={"error": error[:1000]},
    )
