"""One small function per event type. Each writes in the caller's transaction.

Event types are dotted ``<object>.<verb>`` names; docs/permissions.md lists them. The functions
live in topic modules; callers use them through this package (``events.pack_built(...)``).
"""

from __future__ import annotations

from apps.audit.events.collection import (  # noqa: F401
    collection_finished,
    collection_started,
    collection_unit_failed,
    collection_unit_succeeded,
    evaluation_completed,
    evaluation_failed,
    policy_updated,
    source_created,
    source_member_registered,
    source_member_updated,
    source_updated,
)
from apps.audit.events.packs import (  # noqa: F401
    engagement_created,
    pack_built,
    pack_downloaded,
    pack_failed,
    pack_requested,
    pack_verified,
)
from apps.audit.events.people import (  # noqa: F401
    access_denied,
    admin_changed,
    api_token_issued,
    api_token_refused,
    api_token_revoked,
    mfa_enrolled,
    mfa_failed,
    mfa_reset,
    mfa_verified,
    storage_change_refused,
    user_locked_out,
    user_logged_in,
    user_login_failed,
    user_role_assigned,
    webhook_endpoint_created,
    webhook_endpoint_secret_rotated,
    webhook_endpoint_updated,
)
from apps.audit.events.registers import (  # noqa: F401
    campaign_created,
    campaign_start_failed,
    campaign_start_requested,
    campaign_started,
    campaign_template_saved,
    campaign_transition,
    catalog_loaded,
    control_created,
    control_evidence_attached,
    control_evidence_downloaded,
    control_updated,
    exception_decided,
    exception_reminded,
    exception_requested,
    exception_transition,
    object_shared,
    object_unshared,
    remediation_transition,
    review_items_decided,
    review_items_decided_by_rule,
    review_items_reassigned,
    review_reminded,
)
