"""9.2.4.18 logging of credential use: does each AWS account record it in CloudTrail?"""

from __future__ import annotations

from typing import Any

from apps.evaluation.rules.base import Rule, RuleContext, SourceFacts, Verdict, failed, not_assessed, passed
from apps.evaluation.rules.secret_access import account_label


def _gaps(trail: dict[str, Any], *, require_validation: bool) -> tuple[list[str], list[str]]:
    """(what stops the trail from qualifying, what is unknown about it)."""
    gaps: list[str] = []
    unknown: list[str] = []
    checks = (
        ("multi_region", True, "not multi-region", "whether it is multi-region"),
        ("logging", True, "logging is off", "whether it is logging"),
        ("log_file_validation", True, "log-file validation is off", "whether log-file validation is on"),
    )
    for key, wanted, gap, question in checks:
        if key == "log_file_validation" and not require_validation:
            continue
        value = trail.get(key)
        if value is None:
            unknown.append(question)
        elif value is not wanted:
            gaps.append(gap)
    coverage = trail.get("management_events")
    if coverage is None:
        unknown.append("which management events it records")
    elif coverage != "all":
        gaps.append(f"management events recorded: {str(coverage).replace('_', ' ')}")
    return gaps, unknown


class CloudTrailMultiRegion(Rule):
    id = "cloudtrail-multi-region-trail"
    title = "Each AWS account logs credential use with a multi-region CloudTrail trail"
    severity = "high"
    subject = "source"
    requirements = ("9.2.4.18",)
    scope_kind = "aws_iam"
    explanation = (
        "Who used, changed or read a credential is only known if CloudTrail records it in every region. Each "
        "collected AWS account passes when at least one trail (its own or an organisation trail reaching it) is "
        "multi-region, is logging now, records management events both read and write (GetSecretValue is a read "
        "event; an advanced selector that leaves out Secrets Manager, SSM, IAM or STS does not count), and, when the "
        "policy requires it, has log-file validation on. Otherwise it fails, naming each trail and what it lacks. When "
        "the trails could not be listed (for example AccessDenied), or no trail qualifies but one might if what could "
        "not be read were known, the account is not assessed."
    )

    def applies(self, s: SourceFacts) -> bool:
        return s.kind == "aws_account" and s.iam_facts is not None

    def evaluate(self, s: SourceFacts, ctx: RuleContext) -> Verdict:
        label = account_label(s)
        require_validation = ctx.policy.cloudtrail_require_log_file_validation
        fact = (s.iam_facts or {}).get("cloudtrail")
        data: dict[str, Any] = {"require_log_file_validation": require_validation}
        if not isinstance(fact, dict):
            return not_assessed(f"{label}: its CloudTrail trails have not been collected yet", **data)
        if fact.get("status") != "read":
            error = str(fact.get("error") or "unknown problem")[:200]
            return not_assessed(f"{label}: its CloudTrail trails could not be read ({error})", trails=None, **data)
        trails = [t for t in fact.get("trails") or [] if isinstance(t, dict)]
        data["trails"] = len(trails)
        judged = [(t, *_gaps(t, require_validation=require_validation)) for t in trails]
        good = [t for t, gaps, unknown in judged if not gaps and not unknown]
        if good:
            names = ", ".join(str(t.get("name"))[:80] for t in good[:3])
            data["qualifying_trails"] = [str(t.get("arn"))[:300] for t in good[:10]]
            return passed(f"{label}: multi-region trail {names} logs management events (read and write)", **data)
        if not trails:
            region = str(fact.get("region") or "its home region")[:40]
            return failed(
                f"{label}: no CloudTrail trail logs this account (none seen from {region}; a single-region trail of another "
                "region logs only that region)",
                **data,
            )
        described = [
            # A known gap already disqualifies the trail: what AWS was not asked about it is not news.
            f"{str(t.get('name'))[:80]} ({'; '.join(gaps or [f'unknown {u}' for u in unknown])})"
            for t, gaps, unknown in judged[:10]
        ]
        data["trail_problems"] = described
        if any(unknown and not gaps for _, gaps, unknown in judged):
            return not_assessed(f"{label}: no trail is known to qualify: {', '.join(described)}", **data)
        return failed(f"{label}: no trail qualifies: {', '.join(described)}", **data)
