"""The four roles and what each group may do everywhere (model-level permissions).

Groups give the role; django-guardian object permissions give the reach. A permission
listed here for a role applies to every object of that model. Anything narrower (an
auditor seeing one control, a control owner editing their control) is granted per
object. docs/permissions.md is the written vocabulary; a test keeps the two in step.
"""

from django.db import models


class Role(models.TextChoices):
    GRC_LEAD = "grc_lead", "GRC lead"
    APPROVER = "approver", "Approver"
    REVIEWER = "reviewer", "Reviewer"
    AUDITOR = "auditor", "Auditor"


ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.GRC_LEAD: [
        "catalog.view_requirement",
        "controls.view_control",
        "controls.add_control",
        "controls.change_control",
        "controls.attach_evidence",
        "controls.share_control",
        "audit.view_auditevent",
        "inventory.view_source",
        "inventory.add_source",
        "inventory.change_source",
        "inventory.run_collection",
        "inventory.share_source",
        "evaluation.view_evaluation",
        "evaluation.run_evaluation",
        "evaluation.view_policyversion",
        "evaluation.edit_policy",
        "exceptions_register.view_exceptionrequest",
        "exceptions_register.request_exception",
        "exceptions_register.revoke_exception",
        "reviews.view_campaign",
        "reviews.manage_campaign",
        "reviews.share_campaign",
        "evidence.view_engagement",
        "evidence.add_engagement",
        "evidence.build_pack",
        "evidence.share_engagement",
        # keytrail's own API tokens: the inventory of every user's tokens, and revoking any of them.
        "api.view_apitoken",
        "api.revoke_any_apitoken",
        # Outbound webhooks: the endpoints, their delivery logs, and registering or changing them.
        "notifications.view_webhookendpoint",
        "notifications.manage_webhookendpoint",
    ],
    # Approvers decide exceptions about credentials, so they read the whole inventory.
    Role.APPROVER: [
        "catalog.view_requirement",
        "inventory.view_source",
        "evaluation.view_evaluation",
        "evaluation.view_policyversion",
        "exceptions_register.view_exceptionrequest",
        "exceptions_register.decide_exception",
        "exceptions_register.revoke_exception",
        "exceptions_register.request_exception",
    ],
    # Reviewers may ask for an exception; they see only their own requests (object permission).
    Role.REVIEWER: ["catalog.view_requirement", "exceptions_register.request_exception"],
    Role.AUDITOR: ["catalog.view_requirement"],
}

# Object permissions that may be granted per object, and to whom (see docs/permissions.md).
OBJECT_PERMISSIONS: dict[str, list[str]] = {
    "controls.control": ["view_control", "change_control", "attach_evidence"],
    # view_source on a source shows its collections and inventory (e.g. to an auditor).
    "inventory.source": ["view_source", "run_collection"],
    # Requester and owner see their exception; auditors may be given view.
    "exceptions_register.exceptionrequest": ["view_exceptionrequest"],
    # Auditors see a signed-off campaign shared with them. (review_campaign, a reviewer's reach
    # into a campaign, is granted by the review service itself, never through the share page.)
    "reviews.campaign": ["view_campaign"],
    # An engagement shared with an auditor shows them it and its packs (download, verify).
    "evidence.engagement": ["view_engagement"],
}
