"""Which IAM users and roles may read the value of *every* secret or parameter (9.2.4.07).

From the account authorization details the IAM collection already reads (users, groups,
customer-managed policies) plus its roles (``GetAccountAuthorizationDetails`` with
``Filter=["Role"]``, the same allow-listed operation). An identity is a *broad secret
reader* when a policy attached to it, inline in it, or reaching it through one of its groups
has an ``Allow`` statement that

* allows ``secretsmanager:GetSecretValue``/``BatchGetSecretValue`` or ``ssm:GetParameter``,
  ``GetParameters``, ``GetParametersByPath``, ``GetParameterHistory`` (wildcards count:
  ``*``, ``secretsmanager:*``, ``ssm:Get*``; a ``NotAction`` that does not exclude them too),
* on every resource: ``Resource: "*"``, a ``NotResource``, or an ARN pattern ending in
  ``:secret:*`` / ``:parameter/*`` / ``:parameter*`` or naming the whole service
  (``arn:aws:secretsmanager:*``),
* without a condition on the resource's tags (``aws:ResourceTag/...``) or a Secrets Manager
  or SSM condition key, which narrow it to some secrets;

or an AWS-managed policy known to grant that (:data:`SECRET_READING_AWS_MANAGED`; AWS-managed
documents are not collected). Service-linked roles (path ``/aws-service-role/``) are AWS's own
and left out. The fact lists the readers (capped, with the total) and the identities whose
policies could not be read (a document missing or unreadable: not judged, named).
"""

from __future__ import annotations

import fnmatch
from typing import Any

from apps.connectors.aws.iam.policies import aws_managed_policy_name, policy_document

# AWS-managed policies whose documents allow reading secrets' or parameters' values on "*".
SECRET_READING_AWS_MANAGED = frozenset(
    {
        "AdministratorAccess",
        "PowerUserAccess",
        "SecretsManagerReadWrite",
        "AmazonSSMFullAccess",
        "AmazonSSMReadOnlyAccess",
        "AmazonSSMManagedInstanceCore",
        "ReadOnlyAccess",
    }
)
READ_ACTIONS = (
    "secretsmanager:getsecretvalue",
    "secretsmanager:batchgetsecretvalue",
    "ssm:getparameter",
    "ssm:getparameters",
    "ssm:getparametersbypath",
    "ssm:getparameterhistory",
)
MAX_READERS_KEPT = 200
_NARROWING_KEY_PREFIXES = ("aws:resourcetag/", "secretsmanager:", "ssm:")


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _every_resource(statement: dict) -> bool:
    if "NotResource" in statement:
        return True
    for resource in _as_list(statement.get("Resource")):
        text = str(resource).lower()
        if text in ("*", "arn:aws:secretsmanager:*", "arn:aws:ssm:*") or text.endswith((":secret:*", ":parameter/*", ":parameter*")):
            return True
    return False


def _narrowed(condition: Any) -> bool:
    if not isinstance(condition, dict):
        return False
    for clauses in condition.values():
        if isinstance(clauses, dict) and any(str(key).lower().startswith(_NARROWING_KEY_PREFIXES) for key in clauses):
            return True
    return False


def secret_read_actions(document: dict) -> list[str]:
    """The read actions (lower case) a policy document allows on every secret/parameter."""
    granted: set[str] = set()
    for statement in _as_list(document.get("Statement")):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        if not _every_resource(statement) or _narrowed(statement.get("Condition")):
            continue
        if "NotAction" in statement:
            excluded = [str(a).lower() for a in _as_list(statement["NotAction"])]
            granted.update(a for a in READ_ACTIONS if not any(fnmatch.fnmatchcase(a, p) for p in excluded))
        else:
            patterns = [str(a).lower() for a in _as_list(statement.get("Action"))]
            granted.update(a for a in READ_ACTIONS if any(fnmatch.fnmatchcase(a, p) for p in patterns))
    return sorted(granted)


class _Judge:
    def __init__(self, policies: list[dict]):
        self.documents: dict[str, dict | None] = {}
        for policy in policies:
            default = next((v for v in policy.get("PolicyVersionList") or [] if isinstance(v, dict) and v.get("IsDefaultVersion")), None)
            self.documents[str(policy.get("Arn", ""))] = policy_document(default.get("Document")) if default else None

    def of(self, attached: Any, inline: Any, *, prefix: str = "") -> tuple[list[str], list[str], bool]:
        """(grants as "policy: actions", actions, undetermined) of one principal's own policies."""
        grants: list[str] = []
        actions: set[str] = set()
        undetermined = False
        for policy in attached if isinstance(attached, list) else []:
            arn = str((policy or {}).get("PolicyArn", "")) if isinstance(policy, dict) else ""
            managed = aws_managed_policy_name(arn)
            if managed is not None:
                if managed in SECRET_READING_AWS_MANAGED:
                    grants.append(f"{prefix}managed:{managed}")
                    actions.add("(AWS-managed)")
                continue
            document = self.documents.get(arn)
            if document is None:
                undetermined = True
                continue
            found = secret_read_actions(document)
            if found:
                grants.append(f"{prefix}managed:{arn}")
                actions.update(found)
        for policy in inline if isinstance(inline, list) else []:
            if not isinstance(policy, dict):
                undetermined = True
                continue
            document = policy_document(policy.get("PolicyDocument"))
            if document is None:
                undetermined = True
                continue
            found = secret_read_actions(document)
            if found:
                grants.append(f"{prefix}inline:{str(policy.get('PolicyName', ''))[:128]}")
                actions.update(found)
        return grants, sorted(actions), undetermined


class SecretReaders:
    """The ``secret_readers`` fact built page by page: :meth:`judge_users` for each page of
    users in order, then :meth:`fact` with the roles (judged after the users, as they are
    listed). Only the readers and undetermined principals the fact keeps are held."""

    def __init__(self, groups: list[dict], policies: list[dict]):
        self.judge = _Judge(policies)
        self.group_results: dict[str, tuple[list[str], list[str], bool]] = {}
        for group in groups:
            name = str(group.get("GroupName", ""))
            self.group_results[name] = self.judge.of(
                group.get("AttachedManagedPolicies"), group.get("GroupPolicyList"), prefix=f"group:{name}:"
            )
        self.readers: list[dict[str, Any]] = []
        self.readers_total = 0
        self.undetermined: list[str] = []
        self.undetermined_total = 0
        self.judged = 0

    def judge_users(self, users: list[dict]) -> None:
        for u in users:
            self._judge("user", u, u.get("AttachedManagedPolicies"), u.get("UserPolicyList"), u.get("GroupList"))

    def _judge(self, kind: str, detail: dict, attached: Any, inline: Any, group_names: Any) -> None:
        arn = str(detail.get("Arn") or "")[:400]
        if not arn:
            return
        self.judged += 1
        grants, actions, unknown = self.judge.of(attached, inline)
        all_actions = set(actions)
        for group_name in group_names if isinstance(group_names, list) else []:
            result = self.group_results.get(str(group_name))
            if result is None:
                unknown = True
                continue
            grants += result[0]
            all_actions.update(result[1])
            unknown = unknown or result[2]
        name = str(detail.get("UserName") or detail.get("RoleName") or arn)[:200]
        if grants:
            self.readers_total += 1
            if len(self.readers) < MAX_READERS_KEPT:
                self.readers.append({"arn": arn, "name": name, "type": kind, "via": grants[:20], "actions": sorted(all_actions)})
        elif unknown:
            self.undetermined_total += 1
            if len(self.undetermined) < MAX_READERS_KEPT:
                self.undetermined.append(arn)

    def fact(self, roles: list[dict]) -> dict[str, Any]:
        """The fact, once every user was judged: the roles (service-linked ones left out) last."""
        for r in roles:
            if not str(r.get("Path") or "").startswith("/aws-service-role/"):
                self._judge("role", r, r.get("AttachedManagedPolicies"), r.get("RolePolicyList"), None)
        return {
            "status": "read",
            "readers": self.readers,
            "readers_total": self.readers_total,
            "undetermined": self.undetermined,
            "undetermined_total": self.undetermined_total,
            "principals_judged": self.judged,
        }


def broad_secret_readers(users: list[dict], groups: list[dict], roles: list[dict], policies: list[dict]) -> dict[str, Any]:
    """The ``secret_readers`` fact: ``{"status": "read", "readers": [...], "readers_total",
    "undetermined": [...], "undetermined_total", "principals_judged"}``."""
    readers = SecretReaders(groups, policies)
    readers.judge_users(users)
    return readers.fact(roles)
