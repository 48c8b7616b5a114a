"""Who a Secrets Manager secret's resource policy lets read the secret's value.

``GetResourcePolicy`` returns the policy document attached to a secret (never the secret):
:func:`read_policies` asks for it once per secret, :func:`read_grants` turns the document
into the statements that allow reading the value, each with the principals it reaches.
The judgement (own account, trusted accounts, everyone) is the rule's
(``apps.evaluation.rules.secret_access``); this module only says who is reached.

A statement *grants read* when it is ``Allow`` and its ``Action`` matches
``secretsmanager:GetSecretValue`` or ``secretsmanager:BatchGetSecretValue`` (wildcards
included: ``*``, ``secretsmanager:*``, ``secretsmanager:Get*``), or its ``NotAction`` does not
exclude them. Its reach (``scope``):

* ``public``: ``Principal: "*"``, ``{"AWS": "*"}``, a ``NotPrincipal`` (everyone but a few), an
  account wildcard in a principal ARN, unless a condition narrows it (below);
* ``accounts``: named accounts (``123456789012``, ``arn:aws:iam::123456789012:root`` or a
  user/role ARN of that account), listed in ``accounts``;
* ``organization``: narrowed by ``aws:PrincipalOrgID``/``aws:PrincipalOrgPaths``/
  ``aws:SourceOrgID`` (``StringEquals``/``StringLike``, ``ForAnyValue:`` prefixed too);
* ``service``: an AWS service principal (``{"Service": ...}``);
* ``external``: ``Federated`` or ``CanonicalUser`` principals (anyone that provider admits).

A condition on ``aws:PrincipalAccount``/``aws:SourceAccount`` (``StringEquals``/``StringLike``)
or ``aws:PrincipalArn``/``aws:SourceArn`` (``ArnEquals``/``ArnLike``/``String*``) narrows a public
grant to the accounts it names; ``...IfExists`` and negated operators do not narrow. A
policy whose document cannot be understood (not JSON, not a mapping, a statement without
``Effect``/``Principal``, values of the wrong type, larger than :data:`MAX_POLICY_CHARS`)
raises :class:`PolicyUnreadable`: the secret is not assessed, never passed.
"""

from __future__ import annotations

import fnmatch
import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from apps.connectors.aws.allowlist import OPERATION_REFUSED
from apps.connectors.aws.client import error_code, translate_error
from apps.connectors.base import CollectionResult, ConnectorError

# AWS caps a secret's resource policy at 20,480 characters; anything far larger is not AWS.
MAX_POLICY_CHARS = 100_000
MAX_GRANTS_KEPT = 20  # grants recorded per secret (the count of the rest is kept)
READ_ACTIONS = ("secretsmanager:getsecretvalue", "secretsmanager:batchgetsecretvalue")
_ACCOUNT = re.compile(r"^\d{12}$")
_ARN_ACCOUNT = re.compile(r"^arn:aws[a-z-]*:(?:iam|sts)::(?P<account>[^:]*):")
_ORG_KEYS = ("aws:principalorgid", "aws:principalorgpaths", "aws:sourceorgid", "aws:sourceorgpaths")
_ACCOUNT_KEYS = ("aws:principalaccount", "aws:sourceaccount")
_ARN_KEYS = ("aws:principalarn", "aws:sourcearn")
_NARROWING_OPERATORS = ("stringequals", "stringlike", "arnequals", "arnlike")


class PolicyUnreadable(ValueError):
    """The policy document cannot be read with confidence; the message says why."""


def _as_list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, (str, dict)):
        return [value]
    raise PolicyUnreadable(f"{what} is a {type(value).__name__}, not text or a list")


def _strings(value: Any, what: str) -> list[str]:
    items = _as_list(value, what)
    if not all(isinstance(item, str) for item in items):
        raise PolicyUnreadable(f"{what} holds a value that is not text")
    return items


def _reads_value(statement: dict) -> bool:
    if "NotAction" in statement:
        excluded = [a.lower() for a in _strings(statement["NotAction"], "NotAction")]
        return any(not any(fnmatch.fnmatchcase(action, pattern) for pattern in excluded) for action in READ_ACTIONS)
    actions = [a.lower() for a in _strings(statement.get("Action"), "Action")]
    return any(fnmatch.fnmatchcase(action, pattern) for action in READ_ACTIONS for pattern in actions)


def _account_of(value: str) -> str | None:
    """The account a principal names (``"*"`` when it is everyone or a wildcard)."""
    if value == "*":
        return "*"
    if _ACCOUNT.match(value):
        return value
    match = _ARN_ACCOUNT.match(value)
    if match:
        account = match["account"]
        return account if _ACCOUNT.match(account) else "*"
    return None


def _narrowing(condition: Any) -> tuple[bool, set[str]]:
    """(narrowed to an organisation, accounts named) by a statement's Condition block."""
    if condition is None:
        return False, set()
    if not isinstance(condition, dict):
        raise PolicyUnreadable("Condition is not a mapping")
    organization = False
    accounts: set[str] = set()
    for operator, clauses in condition.items():
        if not isinstance(clauses, dict):
            raise PolicyUnreadable(f"Condition {str(operator)[:60]!r} is not a mapping")
        op = str(operator).lower()
        for prefix in ("forallvalues:", "foranyvalue:"):
            op = op.removeprefix(prefix)
        if op not in _NARROWING_OPERATORS:  # IfExists, Not..., Null, Bool...: not a narrowing
            continue
        for key, values in clauses.items():
            name = str(key).lower()
            texts = _strings(values, f"Condition {str(key)[:60]!r}")
            if name in _ORG_KEYS and texts and all(t and "*" != t.strip() for t in texts):
                organization = True
            elif name in _ACCOUNT_KEYS:
                accounts.update(t if _ACCOUNT.match(t) else "*" for t in texts)
            elif name in _ARN_KEYS:
                accounts.update(_account_of(t) or "*" for t in texts)
    return organization, accounts


def _principals(statement: dict) -> list[tuple[str, str]]:
    """(kind, value) of each principal the statement names; ``("AWS", "*")`` for NotPrincipal."""
    if "NotPrincipal" in statement:
        return [("AWS", "*")]  # "everyone except ..." reaches the world
    if "Principal" not in statement:
        raise PolicyUnreadable("an Allow statement has no Principal")
    principal = statement["Principal"]
    if principal == "*":
        return [("AWS", "*")]
    if not isinstance(principal, dict) or not principal:
        raise PolicyUnreadable(f"Principal is a {type(principal).__name__}, not '*' or a mapping")
    pairs: list[tuple[str, str]] = []
    for kind, values in principal.items():
        pairs += [(str(kind), value) for value in _strings(values, f"Principal {str(kind)[:40]!r}")]
    return pairs


def read_grants(document: Any) -> list[dict[str, Any]]:
    """The statements of a resource policy that allow reading the secret's value.

    ``document`` is the policy text (or an already parsed mapping). Each grant:
    ``{"sid", "scope": public|accounts|organization|service|external, "principals": [...],
    "accounts": [...], "narrowed_by": [...]}``. Raises :class:`PolicyUnreadable`.
    """
    if isinstance(document, str):
        if len(document) > MAX_POLICY_CHARS:
            raise PolicyUnreadable(f"the policy is {len(document)} characters long (AWS allows 20,480)")
        try:
            document = json.loads(document)
        except ValueError as exc:
            raise PolicyUnreadable(f"the policy is not JSON: {str(exc)[:120]}") from exc
    if not isinstance(document, dict):
        raise PolicyUnreadable("the policy is not a JSON object")
    grants: list[dict[str, Any]] = []
    for number, statement in enumerate(_as_list(document.get("Statement"), "Statement"), start=1):
        if not isinstance(statement, dict):
            raise PolicyUnreadable(f"statement {number} is not a mapping")
        effect = statement.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise PolicyUnreadable(f"statement {number} has Effect {str(effect)[:40]!r}")
        if effect != "Allow" or not _reads_value(statement):
            continue
        principals = _principals(statement)
        organization, condition_accounts = _narrowing(statement.get("Condition"))
        scopes: set[str] = set()
        accounts: set[str] = set()
        for kind, value in principals:
            if kind == "Service":
                scopes.add("service")
            elif kind in ("Federated", "CanonicalUser"):
                scopes.add("external")
            elif kind == "AWS":
                account = _account_of(value)
                if account is None:
                    raise PolicyUnreadable(f"statement {number}: AWS principal {value[:80]!r} names no account")
                accounts.add(account)
            else:
                raise PolicyUnreadable(f"statement {number}: unknown principal type {kind[:40]!r}")
        narrowed_by: list[str] = []
        if "*" in accounts:
            if organization:
                accounts.discard("*")
                scopes.add("organization")
                narrowed_by.append("organisation condition")
            elif condition_accounts and "*" not in condition_accounts:
                accounts.discard("*")
                accounts |= condition_accounts
                narrowed_by.append("account condition")
        if "*" in accounts:
            scopes.add("public")
            accounts.discard("*")
        if accounts:
            scopes.add("accounts")
        scope = next(s for s in ("public", "external", "accounts", "organization", "service") if s in scopes)
        grants.append(
            {
                "sid": str(statement.get("Sid") or f"#{number}")[:120],
                "scope": scope,
                "principals": [f"{kind}:{value}"[:200] for kind, value in principals][:10],
                "accounts": sorted(accounts)[:50],
                "narrowed_by": narrowed_by,
            }
        )
    return grants


def policy_attribute(document: Any) -> dict[str, Any]:
    """The ``resource_policy`` attribute of a secret: ``status`` none|present|unreadable, its read grants."""
    if document is None or document == "":
        return {"status": "none", "read_grants": [], "read_grants_total": 0}
    try:
        grants = read_grants(document)
    except PolicyUnreadable as exc:
        return {"status": "unreadable", "error": str(exc)[:300], "read_grants": [], "read_grants_total": 0}
    return {"status": "present", "read_grants": grants[:MAX_GRANTS_KEPT], "read_grants_total": len(grants)}


def read_policies(client: Any, arns: list[str], result: CollectionResult, *, workers: int = 4) -> dict[str, dict[str, Any]]:
    """``GetResourcePolicy`` for each secret ARN, on a few threads: the ``resource_policy``
    attribute by ARN. A secret AWS will not answer for (access denied, gone since the
    listing) gets ``status: "error"`` and a recorded error; throttling beyond retries or an
    unreachable endpoint stops the unit (raised), as a half-read region must not look clean."""
    if not arns:
        return {}
    abort = threading.Event()

    def one(arn: str) -> tuple[str, dict[str, Any] | None, BaseException | None]:
        if abort.is_set():
            return arn, None, None
        try:
            answer = client.get_resource_policy(SecretId=arn)
        except Exception as exc:  # noqa: BLE001
            error = translate_error(exc, context=f"GetResourcePolicy {arn}")
            if error.retryable or error.code == OPERATION_REFUSED:
                abort.set()
            return arn, None, exc
        if not isinstance(answer, dict):
            return arn, {"status": "unreadable", "error": "GetResourcePolicy answered without a mapping"}, None
        return arn, policy_attribute(answer.get("ResourcePolicy")), None

    policies: dict[str, dict[str, Any]] = {}
    fatal: ConnectorError | None = None
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="keytrail-sm-policy") as pool:
        for arn, attribute, exc in pool.map(one, arns):
            if exc is not None:
                error = translate_error(exc, context=f"GetResourcePolicy {arn}")
                if error.retryable or error.code == OPERATION_REFUSED:
                    fatal = fatal or error
                    continue
                result.add_error(error.code, str(error), arn)
                policies[arn] = {"status": "error", "error": f"{error_code(exc) or error.code}"[:100]}
            elif attribute is not None:
                if attribute["status"] == "unreadable":
                    result.add_error("malformed_value", f"resource policy: {attribute['error']}", arn)
                policies[arn] = attribute
    if fatal is not None:
        raise fatal
    return policies
