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

PIPELINE: dict[str, tuple[Step, ...]] = {
    # A collection run reached its end (succeeded, partial or failed).
    "collection.finished": (
        Step("apps.evaluation.tasks.evaluate", args={"collection_run_id": "run_id"}, setting="KEYTRAIL_EVALUATE_AFTER_COLLECTION"),
        # Revoke/rotate decisions are verified by what a collection saw; a failed run saw nothing.
        Step("apps.reviews.tasks.verify_remediation", args={"collection_run_id": "run_id"}, statuses=("succeeded", "partial")),
    ),
    # An access-review campaign was signed off: its decisions now count for 9.2.4.19.
    "review.signed_off": (Step("apps.evaluation.tasks.evaluate", fixed={"trigger": "review"}),),
}

# Plug points read by the evaluation (dotted paths, loaded when used).
EXCEPTION_MATCHER = "apps.exceptions_register.matching.matcher_for"
REVIEW_FACTS = "apps.reviews.facts.attach_reviews"
