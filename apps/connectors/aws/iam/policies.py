"""The privileged rule: which users hold administrator-equivalent permissions.

A user is privileged when the AWS-managed ``AdministratorAccess`` or ``IAMFullAccess`` is
attached to the user or one of its groups, or when an inline or customer-managed policy
(default version) has an ``Allow`` statement whose Action is ``*``/``*:*``/``iam:*`` (or
which uses ``NotAction``) on Resource ``*`` (or with ``NotResource``). See
docs/connectors.md.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

PRIVILEGED_AWS_MANAGED = frozenset({"AdministratorAccess", "IAMFullAccess"})
_AWS_MANAGED_ARN = re.compile(r"^arn:aws[a-z-]*:iam::aws:policy/(?:.*/)?(?P<name>[^/]+)$")
_ADMIN_ACTIONS = frozenset({"*", "*:*", "iam:*"})


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def policy_document(value: Any) -> dict | None:
    """A policy document as a dict (botocore decodes them; raw AWS sends URL-encoded JSON)."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        for text in (value, unquote(value)):
            try:
                parsed = json.loads(text)
            except ValueError:
                continue
            if isinstance(parsed, dict):
                return parsed
    return None


def document_grants_admin(document: dict) -> bool:
    """True when a statement allows every (or every IAM) action on every resource."""
    for statement in _as_list(document.get("Statement")):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        every_resource = "*" in _as_list(statement.get("Resource")) or "NotResource" in statement
        if not every_resource:
            continue
        if "NotAction" in statement:
            return True  # "allow everything except ..." on everything: treat as admin
        actions = {str(action).lower() for action in _as_list(statement.get("Action"))}
        if actions & _ADMIN_ACTIONS:
            return True
    return False


def aws_managed_policy_name(arn: str) -> str | None:
    match = _AWS_MANAGED_ARN.match(arn or "")
    return match["name"] if match else None


class PolicyIndex:
    """Customer-managed policy documents (default version) and group details by name."""

    def __init__(self, policies: list[dict], groups: list[dict]):
        self.documents: dict[str, dict | None] = {}
        for policy in policies:
            default = next((v for v in policy.get("PolicyVersionList") or [] if v.get("IsDefaultVersion")), None)
            self.documents[policy.get("Arn", "")] = policy_document(default.get("Document")) if default else None
        self.groups = {group.get("GroupName"): group for group in groups}
        self._group_results: dict[str, tuple[list[str], list[str], bool]] = {}

    def evaluate(self, owner: str, attached: list[dict] | None, inline: list[dict] | None) -> tuple[list[str], list[str], bool]:
        """(privileged reasons, policy names, undetermined) for one user or group."""
        reasons: list[str] = []
        names: list[str] = []
        undetermined = False
        for policy in attached or []:
            arn = policy.get("PolicyArn", "")
            names.append(arn)
            managed_name = aws_managed_policy_name(arn)
            if managed_name is not None:
                if managed_name in PRIVILEGED_AWS_MANAGED:
                    reasons.append(f"{owner}managed:{managed_name}")
                continue
            document = self.documents.get(arn)
            if document is None:
                undetermined = True
            elif document_grants_admin(document):
                reasons.append(f"{owner}managed:{arn}")
        for policy in inline or []:
            name = str(policy.get("PolicyName", ""))
            names.append(f"inline:{name}")
            document = policy_document(policy.get("PolicyDocument"))
            if document is None:
                undetermined = True
            elif document_grants_admin(document):
                reasons.append(f"{owner}inline:{name}")
        return reasons, names, undetermined

    def user_privileges(self, user: dict) -> tuple[bool | None, list[str], list[str]]:
        """(privileged, reasons, policies incl. through groups) for a UserDetail."""
        reasons, policies, undetermined = self.evaluate("", user.get("AttachedManagedPolicies"), user.get("UserPolicyList"))
        for group_name in user.get("GroupList") or []:
            group = self.groups.get(group_name)
            if group is None:
                undetermined = True
                continue
            if group_name not in self._group_results:  # thousands of users share a few groups
                self._group_results[group_name] = self.evaluate(
                    f"group:{group_name}:", group.get("AttachedManagedPolicies"), group.get("GroupPolicyList")
                )
            g_reasons, g_names, g_undetermined = self._group_results[group_name]
            reasons += g_reasons
            policies += [f"group:{group_name}:{name}" for name in g_names]
            undetermined = undetermined or g_undetermined
        privileged: bool | None = True if reasons else (None if undetermined else False)
        return privileged, reasons, list(dict.fromkeys(policies))
