"""Reads of the evaluation, by topic; every public name is importable from here
(``from apps.evaluation.selectors import latest_evaluation``).

- ``evaluations``: the latest evaluation, the latest attempt, one, the list, the recent ones;
- ``rules``: what people are shown about a rule, rules with their results;
- ``posture``: the dashboard (statuses by clause with their trend), one requirement's status;
- ``findings``: findings narrowed to the sources a user may view;
- ``credentials``: the rules' live verdicts on one credential;
- ``policy``: the policy in force, its history, its page;
- ``as_of``: the posture as it stood at a point in time (the evidence pack).

Every read runs a fixed number of queries whatever the size of the inventory. Cloud strings
(subject labels, reasons, tags) are returned as stored: templates and charts escape them.
"""

from apps.evaluation.selectors.as_of import (
    EvaluationAsOf,
    FindingAsOf,
    PostureAt,
    RuleResultAsOf,
    StatusAsOf,
    evaluation_as_of,
    finding_counts_in_scope,
    findings_in_scope,
    iter_findings_in_scope,
    posture_history,
    requirement_statuses,
    rule_results,
)
from apps.evaluation.selectors.credentials import (
    CredentialVerdicts,
    LiveVerdict,
    credential_facts,
    credential_verdicts,
)
from apps.evaluation.selectors.evaluations import (
    FINDING_STATUSES,
    MANUAL_EVIDENCE,
    TREND_LENGTH,
    display_status,
    evaluation_get,
    evaluation_label,
    evaluation_list,
    latest_attempt,
    latest_evaluation,
    recent_evaluations,
    running_evaluation,
)
from apps.evaluation.selectors.findings import (
    GROUP_CHOICES,
    GROUPS,
    NO_OWNER,
    FindingGroup,
    finding_groups,
    finding_is_overdue,
    finding_list,
    sees_every_source,
    source_choices,
    today,
)
from apps.evaluation.selectors.policy import (
    PASSWORD_LABELS,
    THRESHOLD_LABELS,
    classification_line,
    policy_changes,
    policy_display,
    policy_history,
    policy_in_force,
)
from apps.evaluation.selectors.posture import (
    ClauseGroup,
    Dashboard,
    RequirementRow,
    controls_for,
    posture_dashboard,
    requirement_rule_ids,
    requirement_status_in,
)
from apps.evaluation.selectors.rules import (
    RuleInfo,
    RuleRow,
    load_rule,
    registered_rule_ids,
    rule_info,
    rule_rows,
)

__all__ = [
    "FINDING_STATUSES",
    "MANUAL_EVIDENCE",
    "TREND_LENGTH",
    "display_status",
    "evaluation_get",
    "evaluation_label",
    "evaluation_list",
    "latest_attempt",
    "latest_evaluation",
    "recent_evaluations",
    "running_evaluation",
    "load_rule",
    "registered_rule_ids",
    "rule_info",
    "rule_rows",
    "RuleInfo",
    "RuleRow",
    "ClauseGroup",
    "controls_for",
    "Dashboard",
    "posture_dashboard",
    "requirement_rule_ids",
    "requirement_status_in",
    "RequirementRow",
    "finding_list",
    "finding_groups",
    "finding_is_overdue",
    "FindingGroup",
    "GROUP_CHOICES",
    "NO_OWNER",
    "GROUPS",
    "today",
    "sees_every_source",
    "source_choices",
    "credential_facts",
    "credential_verdicts",
    "CredentialVerdicts",
    "LiveVerdict",
    "PASSWORD_LABELS",
    "THRESHOLD_LABELS",
    "classification_line",
    "policy_changes",
    "policy_display",
    "policy_history",
    "policy_in_force",
    "evaluation_as_of",
    "EvaluationAsOf",
    "FindingAsOf",
    "finding_counts_in_scope",
    "findings_in_scope",
    "iter_findings_in_scope",
    "posture_history",
    "PostureAt",
    "requirement_statuses",
    "rule_results",
    "RuleResultAsOf",
    "StatusAsOf",
]
