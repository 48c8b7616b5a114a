"""Initial secrets replaced at first use (9.2.4.04): console passwords and handed-over secrets.

A console password is *initial* while the report's ``password_last_changed`` is within
:data:`SAME_SECONDS` of the login profile's creation (``GetLoginProfile``): nobody has
changed it since it was set when the profile was created.
"""

from __future__ import annotations

from datetime import datetime

from apps.evaluation.rules._shared import CONSOLE_PASSWORD, SM_SECRET, day, identity_name, in_future, iso, never_used
from apps.evaluation.rules.base import (
    CredentialFacts,
    Rule,
    RuleContext,
    Verdict,
    days_between,
    failed,
    not_assessed,
    passed,
)

# A password changed within this many seconds of its login profile's creation is the one the
# profile was created with (AWS writes both in the same request; clocks and rounding differ).
SAME_SECONDS = 120


def _profile_created(c: CredentialFacts) -> datetime | None:
    """The login profile's creation, only when GetLoginProfile answered it."""
    return c.created_at if c.attributes.get("created_at_basis") == "login_profile" else None


def _initial(c: CredentialFacts) -> tuple[bool | None, str]:
    """(still the initial password?, why unknown)."""
    created = _profile_created(c)
    if created is None:
        return None, "the login profile's creation date is unknown (GetLoginProfile not answered)"
    changed = c.last_rotated_at
    if changed is None:
        return None, "the credential report gives no password_last_changed"
    return (changed - created).total_seconds() <= SAME_SECONDS, ""


def _password_label(c: CredentialFacts) -> str:
    return f"console password of {identity_name(c)}"


class ConsolePasswordInitialUnchanged(Rule):
    id = "console-password-initial-unchanged"
    credential_types = frozenset({CONSOLE_PASSWORD})
    title = "Initial console passwords are changed by their user at first use"
    severity = "high"
    subject = "credential"
    requirements = ("9.2.4.04",)
    scope_kind = "aws_iam"
    explanation = (
        "A console password set when an administrator created the user's login profile must be replaced by the user "
        "the first time it is used. A password still the one the profile was created with (its last change is within "
        "two minutes of the profile's creation) that has been used to sign in since fails; one never used since, or "
        "changed since, passes. Without the profile's creation date (GetLoginProfile refused) or the report's last "
        "change the password is not assessed."
    )

    def applies(self, c: CredentialFacts) -> bool:
        return c.credential_type == CONSOLE_PASSWORD and c.enabled is not False

    def evaluate(self, c: CredentialFacts, ctx: RuleContext) -> Verdict:
        label = _password_label(c)
        initial, why = _initial(c)
        data = {
            "profile_created_at": iso(_profile_created(c)),
            "password_last_changed": iso(c.last_rotated_at),
            "last_used_at": iso(c.last_used_at),
        }
        if initial is None:
            return not_assessed(f"{label}: {why}", **data)
        if not initial:
            return passed(f"{label}: changed on {day(c.last_rotated_at)} after the login profile was created", initial=False, **data)  # type: ignore[arg-type]
        used = c.last_used_at
        if used is None:
            if never_used(c) is None:
                return not_assessed(f"{label}: still the initial password and its last use is unknown", initial=True, **data)
            return passed(f"{label}: still the initial password but not used since it was set", initial=True, **data)
        if used > ctx.now:
            return in_future(label, "last use", used, **data)
        if c.last_rotated_at is not None and used <= c.last_rotated_at:
            return passed(f"{label}: still the initial password, not used since it was set", initial=True, **data)
        return failed(
            f"{label}: signed in on {day(used)} with the initial password set on {day(c.last_rotated_at or used)}, never changed since",
            initial=True,
            **data,
        )


class ConsolePasswordNoResetRequired(Rule):
    id = "console-password-no-reset-required"
    credential_types = frozenset({CONSOLE_PASSWORD})
    title = "Login profiles require a password reset at first sign-in"
    severity = "medium"
    subject = "credential"
    requirements = ("9.2.4.04",)
    scope_kind = "aws_iam"
    explanation = (
        "An administrator who creates a console password should mark it 'password reset required', so the user must "
        "choose their own at first sign-in. The rule reads GetLoginProfile's PasswordResetRequired: set passes; not "
        "set fails while the password is still the one the profile was created with (once the user has changed it, AWS "
        "clears the flag, which passes). When GetLoginProfile was refused the password is not assessed."
    )

    def applies(self, c: CredentialFacts) -> bool:
        return c.credential_type == CONSOLE_PASSWORD and c.enabled is not False

    def evaluate(self, c: CredentialFacts, ctx: RuleContext) -> Verdict:
        label = _password_label(c)
        reset = c.attributes.get("password_reset_required")
        data = {"password_reset_required": reset if isinstance(reset, bool) else None, "profile_created_at": iso(_profile_created(c))}
        if reset is True:
            return passed(f"{label}: a password reset is required at next sign-in", **data)
        if reset is not False:
            return not_assessed(f"{label}: whether a reset is required is unknown (GetLoginProfile not answered)", **data)
        initial, why = _initial(c)
        if initial is None:
            return not_assessed(f"{label}: no reset required, and {why}", **data)
        if not initial:
            return passed(f"{label}: already replaced by its user on {day(c.last_rotated_at)}", **data)  # type: ignore[arg-type]
        return failed(f"{label}: login profile created without 'password reset required' and the password never changed", **data)


class SecretInitialVersionNotRotated(Rule):
    id = "sm-initial-version-not-rotated"
    credential_types = frozenset({SM_SECRET})
    title = "Handed-over secrets are replaced after first use"
    severity = "medium"
    subject = "credential"
    requirements = ("9.2.4.04",)
    scope_kind = "aws_secrets_manager"
    explanation = (
        "A secret of a class the policy says is handed over (handover_rotation_classes, e.g. an API key received "
        "from a partner) must get a new value once it is in use, so the value that travelled is retired. A secret "
        "still on its first version (one version in ListSecrets' SecretVersionsToStages and never rotated) that has "
        "been accessed fails once it is older than handover_rotation_days (30 by default); one never accessed passes, "
        "as it is not in use yet. An unknown version count or last access is not assessed."
    )

    def applies(self, c: CredentialFacts) -> bool:
        return c.credential_type == SM_SECRET and c.deleted_at is None

    def applies_in(self, c: CredentialFacts, ctx: RuleContext) -> bool:
        return self.applies(c) and c.credential_class in ctx.policy.handover_rotation_classes

    def evaluate(self, c: CredentialFacts, ctx: RuleContext) -> Verdict:
        label = f"Secrets Manager secret {c.name}"
        limit = ctx.policy.handover_rotation_days
        if c.credential_class not in ctx.policy.handover_rotation_classes:
            return passed(
                f"{label}: class {c.credential_class} is not handed over (not in handover_rotation_classes)",
                credential_class=c.credential_class,
                in_population=False,
            )
        count = c.attributes.get("version_count")
        data = {"credential_class": c.credential_class, "version_count": count, "limit_days": limit, "last_used_at": iso(c.last_used_at)}
        if c.last_rotated_at is not None or (isinstance(count, int) and not isinstance(count, bool) and count >= 2):
            return passed(f"{label}: replaced since creation ({count} versions)", **data)
        if count != 1:
            return not_assessed(f"{label}: its number of versions is unknown", **data)
        if c.created_at is None:
            return not_assessed(f"{label}: on its first version and its creation date is unknown", **data)
        if c.created_at > ctx.now:
            return in_future(label, "creation", c.created_at, **data)
        used = never_used(c)
        if used is None:
            return not_assessed(f"{label}: on its first version and its last access is unknown", **data)
        if used:
            return passed(f"{label}: on its first version but never accessed (not in use yet)", **data)
        age = days_between(c.created_at, ctx.now)
        data["age_days"] = age
        reason = f"{label}: still on its first value, created {day(c.created_at)} ({age} days ago), accessed since, limit {limit} days for class {c.credential_class}"
        return failed(reason, **data) if age > limit else passed(reason, **data)
