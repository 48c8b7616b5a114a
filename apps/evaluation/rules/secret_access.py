"""9.2.4.07 least-privilege read access to secrets, from AWS metadata.

* ``sm-resource-policy-broad-read``: a Secrets Manager secret whose resource policy lets
  everyone, an external identity provider, or an AWS account other than its own (and the
  policy's trusted accounts) read its value;
* ``iam-broad-secret-read``: an AWS account with more IAM users/roles able to read *every*
  secret or parameter than the policy allows.

The connectors say who is reached (``apps.connectors.aws.secret_policies``,
``apps.connectors.aws.iam.secret_access``); these rules judge it against the policy.
"""

from __future__ import annotations

import fnmatch
from typing import Any

from apps.evaluation.rules._shared import SM_SECRET
from apps.evaluation.rules.base import (
    CredentialFacts,
    Rule,
    RuleContext,
    SourceFacts,
    Verdict,
    failed,
    not_assessed,
    passed,
)

NAMED = 10  # principals/identities named in a reason; the rest are counted


def account_label(source: SourceFacts) -> str:
    """``AWS account prod (123456789012)``, as the password-policy rules name an account."""
    account = str((source.iam_facts or {}).get("account_id") or "")
    return f"AWS account {source.name} ({account})" if account and account != source.name else f"AWS account {source.name}"


def _own_account(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 else ""


def _count(n: int) -> str:
    return f"{n} identity" if n == 1 else f"{n} identities"


def _names(values: list[str]) -> str:
    shown = ", ".join(values[:NAMED])
    return shown + (f" and {len(values) - NAMED} more" if len(values) > NAMED else "")


class SecretResourcePolicyBroadRead(Rule):
    id = "sm-resource-policy-broad-read"
    credential_types = frozenset({SM_SECRET})
    title = "Secrets' resource policies let only their own (or trusted) accounts read them"
    severity = "high"
    subject = "credential"
    requirements = ("9.2.4.07",)
    scope_kind = "aws_secrets_manager"
    explanation = (
        "A resource policy on a Secrets Manager secret can open its value to principals outside the account. Each "
        "secret not scheduled for deletion fails when an Allow statement that permits GetSecretValue (wildcards and "
        "NotAction included) reaches everyone (Principal *, a NotPrincipal, an account wildcard) without a condition "
        "narrowing it to the organisation or named accounts, reaches a federated or canonical-user principal, or names "
        "an AWS account that is neither the secret's own nor one of the policy's trusted accounts. A secret without a "
        "resource policy passes (only its own account's IAM policies can grant reading it). When the policy could not "
        "be read or understood the secret is not assessed, with the reason."
    )

    def applies(self, c: CredentialFacts) -> bool:
        return c.credential_type == SM_SECRET and c.deleted_at is None

    def evaluate(self, c: CredentialFacts, ctx: RuleContext) -> Verdict:
        label = f"Secrets Manager secret {c.name}"
        policy = c.attributes.get("resource_policy")
        if not isinstance(policy, dict):
            return not_assessed(f"{label}: its resource policy has not been collected yet", policy_status=None)
        status = policy.get("status")
        if status == "none":
            return passed(f"{label}: no resource policy; only its own account's IAM policies can grant reading it", policy_status="none")
        if status != "present":
            error = str(policy.get("error") or "unknown problem")[:200]
            return not_assessed(f"{label}: its resource policy could not be judged ({error})", policy_status=str(status)[:20])
        own = _own_account(c.external_id)
        trusted = {own, *ctx.policy.secret_read_trusted_accounts}
        problems: list[str] = []
        outside: set[str] = set()
        grants = [g for g in policy.get("read_grants") or [] if isinstance(g, dict)]
        for grant in grants:
            sid = str(grant.get("sid", "?"))[:60]
            scope = grant.get("scope")
            if scope == "public":
                problems.append(f"statement {sid} lets anyone read it")
            elif scope == "external":
                problems.append(f"statement {sid} lets a federated or canonical-user principal read it")
            elif scope == "accounts":
                others = sorted(str(a) for a in grant.get("accounts") or [] if str(a) not in trusted)
                if others:
                    outside.update(others)
                    problems.append(f"statement {sid} lets account(s) {_names(others)} read it")
        data: dict[str, Any] = {
            "policy_status": "present",
            "read_grants": int(policy.get("read_grants_total") or len(grants)),
            "scopes": sorted({str(g.get("scope")) for g in grants}),
            "outside_accounts": sorted(outside)[:50],
            "own_account": own,
        }
        if problems:
            return failed(f"{label}: {'; '.join(problems[:NAMED])}", **data)
        if not grants:
            return passed(f"{label}: its resource policy grants no one read access to the value", **data)
        return passed(f"{label}: its resource policy lets only its own, trusted or organisation accounts read it", **data)


class BroadSecretReaders(Rule):
    id = "iam-broad-secret-read"
    title = "Few IAM identities may read every secret"
    severity = "high"
    subject = "source"
    requirements = ("9.2.4.07",)
    scope_kind = "aws_iam"
    explanation = (
        "Read access to secrets should follow need to know, not a wildcard. For each collected AWS account, the IAM "
        "users and roles whose attached, inline or group policies allow GetSecretValue or GetParameter* on every "
        "resource (Action or Resource wildcards, NotAction, NotResource, or an AWS-managed policy known to grant it) "
        "are counted, leaving out those the policy exempts by ARN pattern (e.g. a break-glass role). The account "
        "fails when the count exceeds the policy's limit; the reason names them and how they got it. When the roles "
        "could not be read, or some identities' policies could not be read so that the limit might be exceeded, the "
        "account is not assessed."
    )

    def applies(self, s: SourceFacts) -> bool:
        return s.kind == "aws_account" and s.iam_facts is not None

    def evaluate(self, s: SourceFacts, ctx: RuleContext) -> Verdict:
        label = account_label(s)
        fact = (s.iam_facts or {}).get("secret_readers")
        limit = ctx.policy.broad_secret_readers_max
        if not isinstance(fact, dict):
            return not_assessed(f"{label}: who may read every secret has not been collected yet", limit=limit)
        if fact.get("status") != "read":
            return not_assessed(f"{label}: {str(fact.get('error') or 'the identities could not be read')[:200]}", limit=limit)
        exempt = ctx.policy.broad_secret_reader_exempt
        readers = [r for r in fact.get("readers") or [] if isinstance(r, dict)]
        counted = [r for r in readers if not any(fnmatch.fnmatchcase(str(r.get("arn", "")), p) for p in exempt)]
        hidden = max(0, int(fact.get("readers_total") or 0) - len(readers))  # beyond what the fact keeps
        count = len(counted) + hidden
        undetermined = int(fact.get("undetermined_total") or 0)
        data: dict[str, Any] = {
            "limit": limit,
            "broad_readers": count,
            "exempted": len(readers) - len(counted),
            "readers": [f"{r.get('type')}:{r.get('name')}" for r in counted[:50]],
            "undetermined": undetermined,
            "principals_judged": fact.get("principals_judged"),
        }
        if count > limit:
            named = [f"{r.get('type')} {r.get('name')} (via {', '.join(str(v) for v in (r.get('via') or [])[:3])})" for r in counted]
            return failed(f"{label}: {_count(count)} may read every secret or parameter (limit {limit}): {_names(named)}", **data)
        if undetermined and count + undetermined > limit:
            return not_assessed(
                f"{label}: {_count(count)} may read every secret (limit {limit}), and the policies of {undetermined} more "
                f"could not be read: {_names([str(a) for a in fact.get('undetermined') or []])}",
                **data,
            )
        return passed(f"{label}: {_count(count)} may read every secret or parameter (limit {limit})", **data)
