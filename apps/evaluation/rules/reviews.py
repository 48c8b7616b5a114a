"""Rules fed by keytrail's own access reviews: the loop from decision to verified action."""

from __future__ import annotations

from datetime import timedelta

from apps.evaluation.rules._shared import HUMAN, credential_label, day, iso, next_day_tick
from apps.evaluation.rules.base import FAIL, FOREVER, PASS, CredentialFacts, Rule, RuleContext, Verdict, failed


class CredentialNotReviewed(Rule):
    id = "credential-not-reviewed"
    title = "Privileged and non-human credentials are reviewed at the policy's interval, and revocations happen"
    severity = "medium"
    subject = "credential"
    requirements = ("9.2.4.19",)
    scope_kind = ("aws_iam", "aws_secrets_manager", "aws_ssm", "azure_key_vault", "entra_id")
    explanation = (
        "Credentials of privileged users and of non-human users, and every vault secret, must be decided on (keep, "
        "revoke or rotate) by a person in a signed-off access review at least every review_interval_days of the "
        "policy. A credential fails when its latest such decision is older than that, or when it has none and was "
        "created longer ago than that; decisions the campaign's deadline rule made for an absent reviewer do not "
        "count. It also fails while a revoke or rotate decision on it is past its due date and no collection has "
        "shown it carried out: a decision nobody acted on is not a review."
    )

    def applies(self, c: CredentialFacts) -> bool:
        if c.deleted_at is not None:  # scheduled for deletion: sm-scheduled-deletion reports it
            return False
        identity = c.identity
        # A secret has no identity: non-human by nature (as in the reviews' own scope filter).
        return identity is None or identity.kind != HUMAN or identity.privileged is True

    def evaluate(self, c: CredentialFacts, ctx: RuleContext) -> Verdict:
        label = credential_label(c)
        interval = ctx.policy.review_interval_days
        if c.overdue_remediation:
            r = c.overdue_remediation[0]
            assert r.due_date is not None  # a remediation is overdue past its due date
            return failed(
                f"{label}: '{r.decision}' was decided on {day(r.decided_at)} in the review '{r.campaign[:120]}', due "
                f"{r.due_date.isoformat()}, and no collection since shows it done",
                campaign=r.campaign[:200],
                decision=r.decision,
                decided_at=iso(r.decided_at),
                due_date=r.due_date.isoformat(),
                overdue_remediations=len(c.overdue_remediation),
            )
        last = c.last_review
        cutoff = ctx.now - timedelta(days=interval)
        if last is not None and last.decided_at >= cutoff:
            # Holds until the decision falls out of the interval (the reason counts no days).
            return Verdict(
                PASS,
                f"{label} was reviewed on {day(last.decided_at)} ('{last.decision}', review '{last.campaign[:120]}'), "
                f"within the policy's {interval} days",
                {"campaign": last.campaign[:200], "decision": last.decision, "decided_at": iso(last.decided_at), "interval_days": interval},
                last.decided_at + timedelta(days=interval, microseconds=1),
            )
        if last is not None:
            ago = (ctx.now - last.decided_at).days
            return Verdict(
                FAIL,
                f"{label} was last reviewed on {day(last.decided_at)} (review '{last.campaign[:120]}'), "
                f"{ago} days ago; the policy asks for a review every {interval} days",
                {"campaign": last.campaign[:200], "decision": last.decision, "decided_at": iso(last.decided_at), "interval_days": interval},
                next_day_tick(last.decided_at, ago),
            )
        if c.created_at is not None and c.created_at >= cutoff:
            return Verdict(
                PASS,
                f"{label} was created on {day(c.created_at)}: its first review is due by {day(c.created_at + timedelta(days=interval))}",
                {"created_at": iso(c.created_at), "interval_days": interval, "reviewed": False},
                c.created_at + timedelta(days=interval, microseconds=1),
            )
        # From here on the verdict does not change as time passes (no count of days in it).
        until = FOREVER
        since = f"created on {day(c.created_at)}" if c.created_at is not None else "creation date unknown"
        return Verdict(
            FAIL,
            f"{label} ({since}) has never been decided on in a signed-off access review; the policy asks for one every {interval} days",
            {"created_at": iso(c.created_at), "interval_days": interval, "reviewed": False},
            until,
        )
