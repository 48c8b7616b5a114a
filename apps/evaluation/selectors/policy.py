"""Reads of the evaluation policy: the version in force, its history with what changed, its page's layout."""

from __future__ import annotations

from typing import Any

from apps.evaluation.models import PolicyVersion
from apps.evaluation.policy import DEFAULT_POLICY, SEVERITIES, default_policy


def policy_in_force() -> tuple[PolicyVersion | None, dict[str, Any]]:
    """The newest stored version (None before the first is stored) and the policy data in force."""
    version = PolicyVersion.objects.select_related("created_by").order_by("-version").first()
    return version, (version.data if version else default_policy().as_dict())


def classification_line(item: dict) -> str:
    """A classification rule as one line of the policy form: ``class: tag key=value`` or ``class: name pattern``."""
    if item.get("tag_key"):
        return f"{item.get('class', '')}: tag {item['tag_key']}={item.get('tag_value', '')}"
    return f"{item.get('class', '')}: name {item.get('name_pattern', '')}"


def _policy_text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "—"
    return str(value)


def policy_changes(old: dict, new: dict) -> list[tuple[str, str, str]]:
    """``[(field, old, new)]`` as text; the rotation mapping per class, classification rules
    as the lines removed and added."""
    rows = []
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if key == "classification":
            before_lines = [classification_line(i) for i in before or [] if isinstance(i, dict)]
            after_lines = [classification_line(i) for i in after or [] if isinstance(i, dict)]
            removed = [line for line in before_lines if line not in after_lines]
            added = [line for line in after_lines if line not in before_lines]
            rows.append((key, "; ".join(removed) or "—", "; ".join(added) or ("reordered" if not removed else "—")))
        elif isinstance(before, dict) or isinstance(after, dict):
            before, after = before if isinstance(before, dict) else {}, after if isinstance(after, dict) else {}
            for sub in sorted(set(before) | set(after), key=str):
                if before.get(sub) != after.get(sub):
                    rows.append((f"{key}.{sub}", _policy_text(before.get(sub)), _policy_text(after.get(sub))))
        else:
            rows.append((key, _policy_text(before), _policy_text(after)))
    return rows


def policy_history() -> list[PolicyVersion]:
    """Every version, newest first, each with ``changes`` against the version before it."""
    versions = list(PolicyVersion.objects.select_related("created_by").order_by("version"))
    previous = None
    for version in versions:
        version.changes = policy_changes(previous.data, version.data) if previous is not None else []
        version.is_first = previous is None
        previous = version
    return versions[::-1]


def policy_display(data: dict[str, Any]) -> dict[str, Any]:
    """The policy in force arranged for its page: rotation rows, thresholds, password policy, tag keys, classification lines.
    A field added since the version was stored shows the default it is read with."""
    data = {**DEFAULT_POLICY, **data}
    rotation = data.get("rotation_days") or {}
    return {
        "rotation": sorted(((str(k), v) for k, v in rotation.items()), key=lambda kv: (kv[0] == "default", kv[0])),
        "thresholds": [(label, data.get(key)) for key, label in THRESHOLD_LABELS],
        "password": [(label, _policy_text(data.get(key))) for key, label in PASSWORD_LABELS],
        "owner_tag_keys": data.get("owner_tag_keys") or [],
        "request_tag_keys": data.get("request_tag_keys") or [],
        "classification": [classification_line(i) for i in data.get("classification") or [] if isinstance(i, dict)],
        "coverage_grace_factor": data.get("coverage_grace_factor"),
        "finding_sla": [(severity, (data.get("finding_sla_days") or {}).get(severity)) for severity in SEVERITIES],
    }


THRESHOLD_LABELS = (
    ("unused_days", "Key unused for more than (days)"),
    ("console_unused_days", "Console password unused for more than (days)"),
    ("inactive_key_max_days", "Inactive key kept at most (days)"),
    ("sm_not_accessed_days", "Secrets Manager secret not accessed for more than (days)"),
    ("kv_expiry_warning_days", "Key Vault expiry warning (days before)"),
    ("kv_max_validity_days", "Key Vault maximum validity (days)"),
    ("entra_secret_max_lifetime_days", "Entra ID client secret maximum lifetime (days)"),
    ("certificate_expiry_warning_days", "IAM server certificate expiry warning (days before)"),
    ("kv_certificate_warning_days", "Key Vault certificate without auto-renew: expiry warning (days before)"),
    ("review_interval_days", "Privileged and non-human credentials reviewed at least every (days)"),
    ("break_glass_use_window_days", "Break-glass user used within (days) is a finding"),
    ("handover_rotation_days", "Handed-over secret rotated within (days) of creation"),
    ("max_console_password_user_percent", "Human IAM users with a console password at most (%)"),
)
PASSWORD_LABELS = (
    ("password_min_length", "Minimum length"),
    ("password_max_age_days", "Maximum age (days)"),
    ("password_reuse_prevention", "Previous passwords remembered"),
    ("password_require_symbols", "Require symbols"),
    ("password_require_numbers", "Require numbers"),
    ("password_require_uppercase", "Require uppercase"),
    ("password_require_lowercase", "Require lowercase"),
)
