"""The flow of keytrail, in one place (docs/architecture.md, "The pipeline").

    sources ──► collection run (apps.inventory: one task per source unit, connectors fan out)
            ──► inventory + snapshot                       publishes "collection.finished"
            ──► evaluation (apps.evaluation)               ◄── step 1 of "collection.finished"
            ──► remediation check (apps.reviews)           ◄── step 2 of "collection.finished"
            ──► registers: exceptions, reviews, controls (people act; a review's sign-off
                publishes "review.signed_off" ──► evaluation again)
            ──► evidence pack as of a time (apps.evidence composes each app's selectors)

Lower layers publish events (``apps.core.pipeline.publish``); the steps that follow are
declared here, so no app imports the tasks of an app above it. The two plug points where a
lower layer reads what a higher one decides (the exception register's matcher and the access
reviews' decisions, both read by the evaluation) are named here too.
"""

from apps.core.pipeline import Step


def _notify(event: str, object_key: str, *, user_ids: str | None = None, tag: str | None = None, statuses=None) -> Step:
    """A step that tells people and webhooks about ``event`` (apps.notifications.tasks.notify)."""
    args = {"object_id": object_key, **({"user_ids": user_ids} if user_ids else {}), **({"tag": tag} if tag else {})}
    return Step("apps.notifications.tasks.notify", args=args, fixed={"event": event}, statuses=statuses)


PIPELINE: dict[str, tuple[Step, ...]] = {
    # A collection run reached its end (succeeded, partial or failed).
    "collection.finished": (
        Step("apps.evaluation.tasks.evaluate", args={"collection_run_id": "run_id"}, setting="KEYTRAIL_EVALUATE_AFTER_COLLECTION"),
        # Revoke/rotate decisions are verified by what a collection saw; a failed run saw nothing.
        Step("apps.reviews.tasks.verify_remediation", args={"collection_run_id": "run_id"}, statuses=("succeeded", "partial")),
    ),
    # An access-review campaign was signed off: its decisions now count for 9.2.4.19.
    "review.signed_off": (Step("apps.evaluation.tasks.evaluate", fixed={"trigger": "review"}),),
    # People and systems are told (apps.notifications: e-mail and webhooks, docs/notifications.md).
    "review.assigned": (_notify("review.assigned", "campaign_id", user_ids="reviewer_ids", tag="tag"),),
    "review.due_soon": (_notify("review.due_soon", "reminder_id", user_ids="cc_user_ids"),),
    "review.overdue": (_notify("review.overdue", "reminder_id", user_ids="cc_user_ids"),),
    "exception.submitted": (_notify("exception.awaiting_approval", "exception_id"),),
    "exception.decided": (
        _notify("exception.awaiting_approval", "exception_id", statuses=("pending",)),  # a second approval is needed
        _notify("exception.approved", "exception_id", statuses=("approved",)),
        _notify("exception.rejected", "exception_id", statuses=("rejected",)),
    ),
    "exception.expiring": (_notify("exception.expiring", "reminder_id"),),
    "remediation.reopened": (_notify("remediation.reopened", "remediation_id"),),
}

# Plug points read by the evaluation (dotted paths, loaded when used).
EXCEPTION_MATCHER = "apps.exceptions_register.matching.matcher_for"
REVIEW_FACTS = "apps.reviews.facts.attach_reviews"
# SQL selecting the credentials whose review facts may change with time alone (incremental evaluation reads them every time).
REVIEW_FACTS_CLOCKED = "apps.reviews.facts.clocked_credentials_sql"
