"""What a pack may disclose: only what the engagement's auditors may see in the app.

An engagement's pack is read by the auditors it is shared with, who see in the app only that
engagement and what its scope reaches. The gatherer narrows every section to that scope
(docs/evidence-packs.md, "Least disclosure"); this module decides the audit extract: events
**about the scope** — the engagement itself and its packs, its sources and their collection
runs (only the units of its sources), the exceptions, controls, campaigns, review items and
remediations in the pack — plus the organisation-wide records the pack itself shows (the
catalog, the policy, the evaluations). Never sign-ins, tokens or refusals (about people and
their paths, not the scope), never another engagement or its packs, and of sharing only the
engagement's own (who else a control or source is shared with is not the auditor's business).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from apps.audit.selectors import ExtractEvent

# Never in a pack: refusals with their paths, sign-ins, MFA, API tokens.
NEVER_PREFIXES = ("access.", "user.", "api_token.")
# Organisation-wide records the pack itself reports (catalog, policy, evaluations).
ORG_WIDE = frozenset({"catalog.loaded", "policy.updated", "evaluation.completed", "evaluation.failed"})
SHARING = frozenset({"object.shared", "object.unshared"})


@dataclass(frozen=True)
class PackScope:
    """The ids (as the audit trail writes them: text) of everything the pack covers."""

    engagement_id: int
    pack_ids: frozenset[str]
    source_ids: frozenset[str]
    source_names: frozenset[str]
    run_ids: frozenset[str]
    exception_ids: frozenset[str]
    control_ids: frozenset[str]
    campaign_ids: frozenset[str]
    item_ids: frozenset[str]
    remediation_ids: frozenset[str]

    @staticmethod
    def ids(values: Iterable[object]) -> frozenset[str]:
        return frozenset(str(v) for v in values)


def audit_filter(scope: PackScope) -> Callable[[ExtractEvent], ExtractEvent | None]:
    """The ``keep`` function for :func:`apps.audit.selectors.audit_extract`."""
    targets = {
        "evidence.engagement": frozenset({str(scope.engagement_id)}),
        "evidence.pack": scope.pack_ids,
        "inventory.source": scope.source_ids,
        "inventory.collectionrun": scope.run_ids,
        "exceptions_register.exceptionrequest": scope.exception_ids,
        "controls.control": scope.control_ids,
        "reviews.campaign": scope.campaign_ids,
        "reviews.reviewitem": scope.item_ids,
        "reviews.remediation": scope.remediation_ids,
    }

    def keep(event: ExtractEvent) -> ExtractEvent | None:
        event_type = event["event_type"]
        if event_type.startswith(NEVER_PREFIXES):
            return None
        if event_type in ORG_WIDE:
            return event
        if event["target_id"] not in targets.get(event["target_type"], ()):
            return None
        if event_type in SHARING and event["target_type"] != "evidence.engagement":
            return None
        changes = event["changes"]
        if event["target_type"] != "inventory.collectionrun" or not isinstance(changes, dict):
            return event
        source = changes.get("source")  # a collection unit's event names its source
        if isinstance(source, str) and source not in scope.source_names:
            return None
        sources = changes.get("sources")  # a run's start names every source it collects
        if isinstance(sources, list) and any(str(s) not in scope.source_names for s in sources):
            narrowed = [s for s in sources if str(s) in scope.source_names]
            return {**event, "changes": {**changes, "sources": narrowed}, "redacted": ["sources"]}
        return event

    return keep
