"""Audit events: the registers people keep: catalog, controls, exceptions, access reviews. One function per event type (see the package)."""

from __future__ import annotations

from apps.audit.services import audit_record, audit_record_many


# catalog ------------------------------------------------------------------
def catalog_loaded(*, actor, version, summary: dict) -> None:
    audit_record(event_type="catalog.loaded", actor=actor, target=version, changes=summary)


# controls -----------------------------------------------------------------
def control_created(*, actor, control, values: dict) -> None:
    audit_record(event_type="control.created", actor=actor, target=control, changes={k: [None, v] for k, v in values.items()})


def control_updated(*, actor, control, changes: dict) -> None:
    audit_record(event_type="control.updated", actor=actor, target=control, changes=changes)


def control_evidence_attached(*, actor, evidence) -> None:
    audit_record(
        event_type="control.evidence_attached",
        actor=actor,
        target=evidence.control,
        changes={
            "evidence_id": evidence.pk,
            "file": evidence.original_name,
            "sha256": evidence.sha256,
            "size": evidence.size,
            "content_type": evidence.content_type,
            "effective_date": evidence.effective_date.isoformat(),
        },
    )


def control_evidence_downloaded(*, actor, evidence) -> None:
    audit_record(
        event_type="control.evidence_downloaded",
        actor=actor,
        target=evidence.control,
        changes={"evidence_id": evidence.pk, "sha256": evidence.sha256},
    )


def object_shared(*, actor, target, grantee, permissions: list[str]) -> None:
    audit_record(
        event_type="object.shared", actor=actor, target=target, changes={"grantee": grantee.get_username(), "permissions": permissions}
    )


def object_unshared(*, actor, target, grantee, permissions: list[str]) -> None:
    audit_record(
        event_type="object.unshared", actor=actor, target=target, changes={"grantee": grantee.get_username(), "permissions": permissions}
    )


# exceptions ---------------------------------------------------------------
def exception_requested(*, actor, exception, warnings: list[str]) -> None:
    audit_record(
        event_type="exception.requested",
        actor=actor,
        target=exception,
        changes={
            "state": [None, exception.state],
            "rules": exception.rule_ids,
            "scope": exception.scope,
            "risk": exception.risk,
            **({"risk_reason": exception.risk_reason} if exception.risk_reason else {}),
            "owner": exception.owner.get_username(),
            "expires_on": exception.expires_on.isoformat(),
            "renewal_of": exception.renewal_of.ref if exception.renewal_of_id else None,
            "warnings": warnings,
        },
    )


def exception_decided(*, actor, exception, decision: str, comment: str, from_state: str) -> None:
    # One approval of two leaves the request pending: the event names the decision, the
    # changes show whether the state moved.
    audit_record(
        event_type="exception.approval_given" if decision == "approve" else "exception.rejected",
        actor=actor,
        target=exception,
        changes={"state": [from_state, exception.state], "decision": decision},
        message=comment,
    )


def exception_transition(*, actor, exception, from_state: str, comment: str) -> None:
    audit_record(
        event_type=f"exception.{exception.state}",
        actor=actor,
        actor_label="" if actor else "system:scheduler",
        target=exception,
        changes={"state": [from_state, exception.state]},
        message=comment,
    )


def exception_reminded(*, exception, days_left: int, recipients: list[str]) -> None:
    audit_record(
        event_type="exception.reminder_sent",
        actor_label="system:scheduler",
        target=exception,
        changes={"days_left": days_left, "recipients": recipients},
    )


# access reviews -----------------------------------------------------------
def campaign_created(*, actor, campaign) -> None:
    audit_record(
        event_type="campaign.created",
        actor=actor,
        target=campaign,
        changes={
            "scope": campaign.scope,
            "due_date": campaign.due_date.isoformat(),
            "fallback_reviewer": campaign.fallback_reviewer.get_username(),
            "justification_rule": campaign.justification_rule,
            "undecided_rule": campaign.undecided_rule,
            "template": campaign.template_id,
        },
    )


def campaign_started(*, actor, campaign, reviewers: list[str], self_reviews: int) -> None:
    audit_record(
        event_type="campaign.started",
        actor=actor,
        actor_label="" if actor else "system:scheduler",
        target=campaign,
        changes={
            "state": ["draft", campaign.state],
            "population_count": campaign.population_count,
            "population_hash": campaign.population_hash,
            "reviewers": reviewers,
            "self_reviews_reassigned": self_reviews,
        },
    )


def campaign_start_requested(*, actor, campaign) -> None:
    audit_record(event_type="campaign.start_requested", actor=actor, target=campaign, changes={"state": ["draft", "starting"]})


def campaign_start_failed(*, campaign, error: str) -> None:
    audit_record(
        event_type="campaign.start_failed",
        actor=None,
        actor_label="system:worker",
        target=campaign,
        changes={"state": ["starting", "draft"], "error": error},
    )


def campaign_transition(*, actor, campaign, from_state: str, comment: str = "", extra: dict | None = None) -> None:
    audit_record(
        event_type=f"campaign.{campaign.state}",
        actor=actor,
        target=campaign,
        changes={"state": [from_state, campaign.state], **(extra or {})},
        message=comment,
    )


def campaign_template_saved(*, actor, template, created: bool) -> None:
    audit_record(
        event_type="campaign_template.created" if created else "campaign_template.updated",
        actor=actor,
        target=template,
        changes={
            "scope": template.scope,
            "recurrence": template.recurrence,
            "duration_days": template.duration_days,
            "enabled": template.enabled,
        },
    )


def review_items_decided(*, actor, items, decision: str, justification: str) -> None:
    """One event per item, written in one insert (bulk decisions on 1,000 items)."""
    audit_record_many(
        event_type="review.decided",
        actor=actor,
        entries=[
            {
                "target": ("reviews.reviewitem", item.pk, item.subject),
                "message": justification,
                "changes": {"campaign": item.campaign_id, "decision": [None, decision], "credential": item.credential_id},
            }
            for item in items
        ],
    )


def review_items_decided_by_rule(*, items, decision: str, note: str) -> None:
    audit_record_many(
        event_type="review.decided_by_rule",
        actor_label="system:deadline",
        entries=[
            {
                "target": ("reviews.reviewitem", item.pk, item.subject),
                "message": note,
                "changes": {"campaign": item.campaign_id, "decision": [None, decision], "credential": item.credential_id},
            }
            for item in items
        ],
    )


def review_items_reassigned(*, actor, items, to_reviewer, reason: str, note: str) -> None:
    audit_record_many(
        event_type="review.reassigned",
        actor=actor,
        actor_label="" if actor else "system:scheduler",
        entries=[
            {
                "target": ("reviews.reviewitem", item.pk, item.subject),
                "message": note,
                "changes": {
                    "campaign": item.campaign_id,
                    "reviewer": [getattr(item, "previous_reviewer", None), to_reviewer.get_username()],
                    "reason": reason,
                },
            }
            for item in items
        ],
    )


def review_reminded(*, campaign, reviewer, mark: str, undecided: int, actor=None) -> None:
    audit_record(
        event_type="review.reminder_sent",
        actor=actor,
        actor_label="" if actor else "system:scheduler",
        target=campaign,
        changes={"reviewer": reviewer.get_username(), "mark": mark, "undecided": undecided},
    )


def remediation_transition(*, remediation, from_state: str, run_id: int | None, note: str) -> None:
    audit_record(
        event_type=f"remediation.{remediation.state}",
        actor_label="system:worker",
        target=remediation,
        changes={"state": [from_state, remediation.state], "credential": remediation.credential_id, "run": run_id},
        message=note,
    )
