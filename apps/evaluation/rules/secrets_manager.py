"""Rules about AWS Secrets Manager secrets: rotation configured, on time, used, retired."""

from __future__ import annotations

from datetime import timedelta

from apps.evaluation.rules._shared import SM_SECRET, day, in_future, iso, judge_age, next_day_tick
from apps.evaluation.rules.base import (
    FOREVER,
    CredentialFacts,
    Rule,
    RuleContext,
    Verdict,
    days_between,
    failed,
    holding_until,
    not_assessed,
    passed,
)


def _label(c: CredentialFacts) -> str:
    return f"Secrets Manager secret {c.name}"


def _live(c: CredentialFacts) -> bool:
    """A secret not scheduled for deletion (those are judged by sm-scheduled-deletion)."""
    return c.credential_type == SM_SECRET and c.deleted_at is None


class RotationDisabled(Rule):
    id = "sm-rotation-disabled"
    credential_types = frozenset({SM_SECRET})
    title = "Secrets Manager secrets rotate automatically"
    severity = "medium"
    subject = "credential"
    requirements = ("9.2.4.08",)
    scope_kind = "aws_secrets_manager"
    explanation = (
        "Managed rotation is the dependable way to keep a secret inside its rotation limit, so every secret that is "
        "not scheduled for deletion should have it switched on. A secret fails when AWS reports rotation as disabled; "
        "if the setting was not reported at all the secret is not assessed."
    )

    def applies(self, c: CredentialFacts) -> bool:
        return _live(c)

    def evaluate(self, c: CredentialFacts, ctx: RuleContext) -> Verdict:
        label = f"{_label(c)} (class {c.credential_class})"
        data = {"rotation_enabled": c.rotation_enabled, "credential_class": c.credential_class}
        if c.rotation_enabled is True:
            every = f" every {c.rotation_interval_days} days" if c.rotation_interval_days else ""
            return passed(f"{label}: automatic rotation enabled{every}", rotation_interval_days=c.rotation_interval_days, **data)
        if c.rotation_enabled is False:
            return failed(f"{label}: automatic rotation disabled", **data)
        return not_assessed(f"{label}: AWS did not report whether rotation is enabled", **data)


class NotRotatedWithinLimit(Rule):
    id = "sm-not-rotated-within-limit"
    credential_types = frozenset({SM_SECRET})
    title = "Secrets Manager secrets are rotated within the limit for their class"
    severity = "medium"
    subject = "credential"
    requirements = ("9.2.4.08",)
    scope_kind = "aws_secrets_manager"
    explanation = (
        "Each secret's age since its last rotation is compared with the limit for its class (60 days for database "
        "credentials, 180 for external API keys, 365 for certificates, 90 otherwise by default); the class comes from "
        "the policy's tag and name rules. A secret never rotated is measured from its creation, and the reason says so. "
        "Secrets scheduled for deletion are left to the deletion rule."
    )

    def applies(self, c: CredentialFacts) -> bool:
        return _live(c)

    def evaluate(self, c: CredentialFacts, ctx: RuleContext) -> Verdict:
        return judge_age(c, ctx.now, ctx.policy.rotation_limit(c.credential_class), _label(c))


class RotationOverdue(Rule):
    id = "sm-rotation-overdue"
    credential_types = frozenset({SM_SECRET})
    title = "Secrets with rotation enabled actually rotate on schedule"
    severity = "high"
    subject = "credential"
    requirements = ("9.2.4.08",)
    scope_kind = "aws_secrets_manager"
    explanation = (
        "Rotation that is switched on but failing gives false comfort. A secret with rotation enabled fails when the "
        "next rotation date AWS reports has passed, or when more whole days than its rotation interval have passed "
        "since it was last rotated (the extra day allows for AWS's rotation window). When neither can be worked out, "
        "for example a cron schedule on a secret never rotated, the secret is not assessed."
    )

    def applies(self, c: CredentialFacts) -> bool:
        return _live(c) and c.rotation_enabled is True

    def evaluate(self, c: CredentialFacts, ctx: RuleContext) -> Verdict:
        now, label = ctx.now, _label(c)
        last, nxt, interval = c.last_rotated_at, c.next_rotation_at, c.rotation_interval_days
        if last is not None and last > now:
            return in_future(label, "last rotation", last, last_rotated_at=iso(last))
        data = {"next_rotation_at": iso(nxt), "last_rotated_at": iso(last), "rotation_interval_days": interval}
        late: list[str] = []
        judged: list[str] = []
        ticks = [FOREVER]  # the instants at which any of the texts below would read differently
        if nxt is not None:
            if nxt < now:
                overdue = days_between(nxt, now)
                late.append(f"next rotation was due {day(nxt)}, {overdue} days ago")
                ticks.append(next_day_tick(nxt, overdue))
            else:
                judged.append(f"next rotation due {day(nxt)}")
                ticks.append(nxt + timedelta(microseconds=1))
        if last is not None and interval:
            since = days_between(last, now)
            data["days_since_rotation"] = since
            text = f"last rotated {day(last)}, {since} days ago, interval {interval} days"
            (late if since > interval else judged).append(text)
            ticks.append(next_day_tick(last, since))
        until = min(ticks)
        if late:
            return holding_until(failed(f"{label}: rotation overdue: {'; '.join(late)}", **data), until)
        if judged:
            return holding_until(passed(f"{label}: rotation on schedule: {'; '.join(judged)}", **data), until)
        missing = "never rotated" if last is None else "no fixed rotation interval"
        return holding_until(not_assessed(f"{label}: rotation enabled but {missing} and no next rotation date reported", **data), until)


class NotAccessed(Rule):
    id = "sm-not-accessed"
    credential_types = frozenset({SM_SECRET})
    title = "Secrets Manager secrets that nobody reads are retired"
    severity = "low"
    subject = "credential"
    requirements = ("9.2.4.12",)
    scope_kind = "aws_secrets_manager"
    explanation = (
        "A secret nobody has read for months is probably no longer needed and should be retired. A secret fails when "
        "its last access, as reported by AWS (to the day), is more days ago than the policy allows (90 by default). "
        "When AWS reported no last-accessed date the secret is not assessed, never passed: the absence can mean "
        "either no access or no data."
    )

    def applies(self, c: CredentialFacts) -> bool:
        return _live(c)

    def evaluate(self, c: CredentialFacts, ctx: RuleContext) -> Verdict:
        label, limit, used = _label(c), ctx.policy.sm_not_accessed_days, c.last_used_at
        if used is None:
            return not_assessed(f"{label}: AWS did not report a last-accessed date", limit_days=limit)
        if used > ctx.now:
            return in_future(label, "last access", used, last_used_at=iso(used))
        idle = days_between(used, ctx.now)
        data = {"last_used_at": iso(used), "idle_days": idle, "limit_days": limit}
        reason = f"{label}, last accessed {day(used)}, {idle} days ago, limit {limit} days"
        return holding_until(failed(reason, **data) if idle > limit else passed(reason, **data), next_day_tick(used, idle))


class ScheduledDeletion(Rule):
    id = "sm-scheduled-deletion"
    credential_types = frozenset({SM_SECRET})
    title = "Secrets scheduled for deletion are followed through"
    severity = "low"
    subject = "credential"
    requirements = ("9.2.4.11",)
    scope_kind = "aws_secrets_manager"
    explanation = (
        "A secret scheduled for deletion stays restorable until its recovery window ends, so revocation is not yet "
        "final and a forgotten consumer may still depend on it. Each such secret fails as a prompt to confirm that "
        "nothing relies on it and that the deletion goes through; the severity is low because scheduling the "
        "deletion was the right step."
    )

    def applies(self, c: CredentialFacts) -> bool:
        return c.credential_type == SM_SECRET

    def evaluate(self, c: CredentialFacts, ctx: RuleContext) -> Verdict:
        label = _label(c)
        if c.deleted_at is None:
            return passed(f"{label} is not scheduled for deletion", scheduled_for_deletion=False)
        ago = days_between(c.deleted_at, ctx.now)
        when = f"{ago} days ago" if ago >= 0 else "with a date in the future"
        verdict = failed(
            f"{label} was scheduled for deletion on {day(c.deleted_at)} ({when}) and is still present; confirm no consumer relies on it",
            scheduled_for_deletion=True,
            deleted_at=iso(c.deleted_at),
            days_since=ago,
        )
        return holding_until(verdict, next_day_tick(c.deleted_at, ago))
