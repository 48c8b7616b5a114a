"""Is every scope of every enabled source collected on schedule? Gaps undermine every other rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from apps.evaluation.rules._shared import iso
from apps.evaluation.rules.base import Rule, RuleContext, SourceFacts, Verdict, failed, not_assessed, passed


def _when(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _span(delta: timedelta) -> str:
    """``95 minutes``, ``2.5 hours``, ``3 days``: precise enough to compare with the limit."""
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} minutes"
    if minutes < 48 * 60:
        return f"{round(minutes / 60, 1):g} hours"
    return f"{round(minutes / 1440, 1):g} days"


class SourceCoverage(Rule):
    id = "source-coverage"
    title = "Every source is collected on schedule"
    severity = "high"
    subject = "source"
    requirements = ("9.2.4.02", "9.2.4.18")
    scope_kind = None
    explanation = (
        "The inventory is only as complete as its last successful collection of each account, region and vault. An "
        "enabled source fails when any of its scopes has never been collected, failed at its latest attempt, or was "
        "last collected successfully longer ago than its schedule times the policy's grace factor. The reason names "
        "each such scope and when it last succeeded. An AWS organisation is not assessed while its latest discovery "
        "found accounts it could not collect (suspended or closing, an Include id not in the organisation); each is "
        "named with the reason; likewise an Azure subscription source whose subscriptions could not be read (no such subscription, "
        "no permission, disabled)."
    )

    def applies(self, s: SourceFacts) -> bool:
        return s.enabled is True

    def evaluate(self, s: SourceFacts, ctx: RuleContext) -> Verdict:
        now = ctx.now
        limit = timedelta(minutes=s.schedule_minutes * ctx.policy.coverage_grace_factor)
        limit_text = f"{_span(limit)} ({s.schedule_minutes} min schedule × {ctx.policy.coverage_grace_factor:g})"
        problems: list[str] = []
        unknown: list[str] = []
        scopes: dict[str, dict] = {}
        for scope in s.scopes:
            last = scope.last_success_at
            scopes[scope.scope] = {"status": scope.last_status, "last_success_at": iso(last)}
            succeeded = f"last succeeded {_when(last)}" if last else "never succeeded"
            if scope.last_status == "never":
                problems.append(f"{scope.scope}: never collected")
            elif scope.last_status == "failed":
                error = f" ({scope.last_error[:200]})" if scope.last_error else ""
                problems.append(f"{scope.scope}: latest collection failed{error}, {succeeded}")
            elif last is None:
                problems.append(f"{scope.scope}: latest collection {scope.last_status}, {succeeded}")
            elif last > now:
                unknown.append(f"{scope.scope}: last success date {_when(last)} is in the future")
            elif now - last > limit:
                problems.append(f"{scope.scope}: stale, {succeeded}, {_span(now - last)} ago")
        # A discovery's accounts that could not be collected (an organisation's suspended ones...).
        skipped = [a for a in (s.iam_facts or {}).get("not_assessed") or [] if isinstance(a, dict)]
        for account in skipped:
            what = account.get("what") or "account"
            unknown.append(f"{what} {account.get('name') or '?'} ({account.get('id')}) not assessed: {account.get('reason')}")
        data = {
            "schedule_minutes": s.schedule_minutes,
            "grace_factor": ctx.policy.coverage_grace_factor,
            "limit_minutes": int(limit.total_seconds() // 60),
            "scopes": scopes,
            "problem_scopes": len(problems),
            "accounts_not_assessed": [str(a.get("id")) for a in skipped],
        }
        label = f"source {s.name}"
        if not s.scopes:
            return failed(f"{label}: no collection scope is configured, so nothing is collected from it", **data)
        if problems:
            return failed(f"{label}: {'; '.join(problems + unknown)}; limit {limit_text}", **data)
        if unknown:
            return not_assessed(f"{label}: {'; '.join(unknown)}", **data)
        return passed(f"{label}: all {len(s.scopes)} scope(s) collected within {limit_text}", **data)
