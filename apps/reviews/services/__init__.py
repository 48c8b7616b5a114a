"""The access-review workflow. Every state change goes through a function here, checks who
may do it, refuses with a clear message and changes nothing when refused, and writes its
audit event in the same transaction.

    draft ─start─► starting ─(a worker freezes the population)─► active ─sign off─► signed_off
      ▲              └─ refused by the worker: back to draft, with why         (decisions locked)
      └──────────────cancel──────────────┴─► cancelled

By topic: ``campaigns`` (create, start, sign off, cancel), ``decisions`` (keep, revoke,
rotate), ``assignment`` (reassign, delegate, a deactivated reviewer's items), ``reminders``
and ``templates`` (recurring campaigns). Callers import the functions from here.
"""

from apps.reviews.services.assignment import items_delegate, items_reassign, reviewer_deactivated
from apps.reviews.services.campaigns import (
    campaign_cancel,
    campaign_create,
    campaign_sign_off,
    campaign_start,
    campaign_start_fail,
    campaign_start_request,
)
from apps.reviews.services.decisions import items_decide
from apps.reviews.services.reminders import campaign_remind, reviews_send_reminders
from apps.reviews.services.templates import template_launch, template_save

__all__ = [
    "campaign_cancel",
    "campaign_create",
    "campaign_remind",
    "campaign_sign_off",
    "campaign_start",
    "campaign_start_fail",
    "campaign_start_request",
    "items_decide",
    "items_delegate",
    "items_reassign",
    "reviewer_deactivated",
    "reviews_send_reminders",
    "template_launch",
    "template_save",
]
