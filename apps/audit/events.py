"""One small function per event type. Each writes in the caller's transaction.

Event types are dotted ``<object>.<verb>`` names; docs/permissions.md lists them.
"""

from __future__ import annotations

from apps.audit.services import audit_record, audit_record_many


# accounts -----------------------------------------------------------------
def user_logged_in(*, user) -> None:
    audit_record(event_type="user.logged_in", actor=user, target=user, require_transaction=False)


def user_login_failed(*, username: str) -> None:
    audit_record(
        event_type="user.login_failed",
        actor_label=f"anonymous:{username[:100]}",
        target=("accounts.user", "", username[:100]),
        require_transaction=False,
    )


def user_role_assigned(*, actor, user, role: str) -> None:
    audit_record(event_type="user.role_assigned", actor=actor, target=user, changes={"role": [None, role]})


def admin_changed(*, actor, target, action: str, changes: dict) -> None:
    """A change made in the Django admin (users, their roles and permissions, groups): the admin
    bypasses the services, so it records its own event (``action``: added, changed, deleted)."""
    audit_record(event_type="admin.changed", actor=actor, target=target, changes={"action": action, **changes})


def access_denied(*, actor, permission: str, target=None, path: str = "") -> None:
    """A refusal changes nothing, so it is written on its own (no enclosing transaction)."""
    audit_record(
        event_type="access.denied",
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        actor_label="" if getattr(actor, "is_authenticated", False) else "anonymous",
        target=target,
        changes={"permission": permission, "path": path[:500]},
        require_transaction=False,
    )


def storage_change_refused(*, name: str, operation: str, code: str) -> None:
    """The evidence store refused to delete or overwrite an object under retention (S3 Object
    Lock). Nothing changed, so it is written on its own, like a refused view."""
    audit_record(
        event_type="storage.change_refused",
        actor_label="system:storage",
        target=("storage.object", "", name[:200]),
        changes={"operation": operation, "code": code[:100]},
        require_transaction=False,
    )


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


# account security -----------------------------------------------------------
def user_locked_out(*, username: str, ip_address: str) -> None:
    """Too many failed sign-ins (django-axes): the username is locked out from that address."""
    audit_record(
        event_type="user.locked_out",
        actor_label=f"anonymous:{username[:100]}",
        target=("accounts.user", "", username[:100]),
        changes={"ip_address": [None, ip_address]},
        require_transaction=False,
    )


def mfa_enrolled(*, user, device_name: str) -> None:
    audit_record(event_type="user.mfa_enrolled", actor=user, target=user, changes={"device": [None, device_name]})


def mfa_verified(*, user) -> None:
    audit_record(event_type="user.mfa_verified", actor=user, target=user, require_transaction=False)


def mfa_failed(*, user) -> None:
    audit_record(event_type="user.mfa_failed", actor=user, target=user, require_transaction=False)


def mfa_reset(*, actor, user) -> None:
    audit_record(event_type="user.mfa_reset", actor=actor, target=user, changes={"devices": ["removed", None]})


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


# evidence packs -----------------------------------------------------------
def engagement_created(*, actor, engagement, values: dict) -> None:
    audit_record(event_type="engagement.created", actor=actor, target=engagement, changes={k: [None, v] for k, v in values.items()})


def pack_requested(*, actor, pack) -> None:
    audit_record(
        event_type="pack.requested",
        actor=actor,
        target=pack,
        changes={
            "engagement": pack.engagement_id,
            "as_of": pack.as_of.isoformat(),
            "sample_size": pack.sample_size,
            "sample_seed": pack.sample_seed,
        },
    )


def pack_built(*, pack) -> None:
    audit_record(
        event_type="pack.built",
        actor_label="system:worker",
        target=pack,
        changes={
            "engagement": pack.engagement_id,
            "sha256": pack.sha256,
            "pack_hash": pack.pack_hash,
            "size": pack.size,
            "seconds": (pack.timings or {}).get("total"),
        },
    )


def pack_failed(*, pack, error: str) -> None:
    audit_record(
        event_type="pack.failed",
        actor_label="system:worker",
        target=pack,
        changes={"engagement": pack.engagement_id, "error": error[:1000]},
    )


def pack_downloaded(*, actor, pack) -> None:
    audit_record(event_type="pack.downloaded", actor=actor, target=pack, changes={"engagement": pack.engagement_id, "sha256": pack.sha256})


def pack_verified(*, actor, pack, ok: bool, problems: list[str], uploaded_name: str = "") -> None:
    """A verification changes nothing; it is recorded so an auditor's checks are on the trail."""
    audit_record(
        event_type="pack.verified",
        actor=actor,
        target=pack if pack is not None else None,
        changes={"ok": ok, "problems": problems[:20], "uploaded": uploaded_name[:200]},
        require_transaction=False,
    )


# webhook endpoints (the signing secret is never recorded, only its first characters) ---------
def webhook_endpoint_created(*, actor, endpoint, values: dict) -> None:
    audit_record(event_type="webhook_endpoint.created", actor=actor, target=endpoint, changes={k: [None, v] for k, v in values.items()})


def webhook_endpoint_updated(*, actor, endpoint, changes: dict) -> None:
    audit_record(event_type="webhook_endpoint.updated", actor=actor, target=endpoint, changes=changes)


def webhook_endpoint_secret_rotated(*, actor, endpoint, old_hint: str) -> None:
    audit_record(
        event_type="webhook_endpoint.secret_rotated", actor=actor, target=endpoint, changes={"secret": [old_hint, endpoint.secret_hint]}
    )


# API tokens -----------------------------------------------------------------
def api_token_issued(*, actor, token) -> None:
    # The token itself is never recorded: only its public id, name, scope and expiry.
    audit_record(
        event_type="api_token.issued",
        actor=actor,
        target=token,
        changes={
            "owner": token.user.get_username(),
            "public_id": token.public_id,
            "name": token.name,
            "scope": token.scope,
            "expires_at": token.expires_at.isoformat(),
        },
    )


def api_token_revoked(*, actor, token) -> None:
    audit_record(
        event_type="api_token.revoked",
        actor=actor,
        target=token,
        changes={
            "owner": token.user.get_username(),
            "public_id": token.public_id,
            "state": ["active", "revoked"],
        },
    )


def api_token_refused(*, token, reason: str, path: str = "") -> None:
    """A request with an expired or revoked token: a refusal changes nothing, written on its own."""
    audit_record(
        event_type="api_token.refused",
        actor=token.user,
        target=token,
        changes={
            "public_id": token.public_id,
            "reason": reason,
            "path": path[:500],
        },
        require_transaction=False,
    )
