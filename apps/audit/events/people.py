"""Audit events: who signs in, with what, and who may do what: accounts, sign-in security, admin changes, API tokens, webhook endpoints. One function per event type (see the package)."""

from __future__ import annotations

from apps.audit.services import audit_record


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
