"""Rules about interactive access: console passwords, MFA, and people who also hold keys."""

from __future__ import annotations

from apps.evaluation.rules._shared import (
    ACCESS_KEY,
    CONSOLE_PASSWORD,
    HUMAN,
    SERVICE,
    identity_name,
    judge_last_use,
    short_id,
    unless_state_unknown,
)
from apps.evaluation.rules.base import (
    CredentialFacts,
    IdentityFacts,
    Rule,
    RuleContext,
    Verdict,
    failed,
    not_assessed,
    passed,
)


class ConsolePasswordNoMfa(Rule):
    id = "console-password-no-mfa"
    credential_types = frozenset({CONSOLE_PASSWORD})
    title = "Every console password is protected by MFA"
    severity = "high"
    subject = "credential"
    requirements = ("9.3.1.06",)
    scope_kind = "aws_iam"
    explanation = (
        "A console password on its own is one phishing message away from compromise, so every user who can sign in "
        "to the console with a password must have an active MFA device. The rule reads the MFA state AWS reports for "
        "the password's user; when that state could not be determined the password is not assessed."
    )

    def applies(self, c: CredentialFacts) -> bool:
        return c.credential_type == CONSOLE_PASSWORD and c.enabled is not False

    def evaluate(self, c: CredentialFacts, ctx: RuleContext) -> Verdict:
        identity = c.identity
        mfa = identity.mfa_active if identity is not None else c.attributes.get("mfa_active")
        kind = identity.kind if identity is not None else "unknown"
        label = f"console password of {identity_name(c)} ({kind} user)"
        data = {"mfa_active": mfa if isinstance(mfa, bool) else None, "identity_kind": kind}
        if mfa is True:
            return passed(f"{label}: MFA active", **data)
        if mfa is False:
            return unless_state_unknown(failed(f"{label}: MFA not active", **data), c.enabled)
        return not_assessed(f"{label}: MFA state unknown", **data)


class ConsolePasswordUnused(Rule):
    id = "console-password-unused"
    credential_types = frozenset({CONSOLE_PASSWORD})
    title = "Console passwords that are not used are removed"
    severity = "medium"
    subject = "credential"
    requirements = ("9.2.4.12",)
    scope_kind = "aws_iam"
    explanation = (
        "A console password that nobody signs in with is an open door with no one watching it. An enabled password "
        "fails when its last sign-in is more days ago than the policy's console limit (45 by default); a password "
        "never used is judged on the date it was set, so it fails only once it is older than the limit. AWS reports "
        "the date the password was last changed as its creation date, so a reset restarts that count."
    )

    def applies(self, c: CredentialFacts) -> bool:
        return c.credential_type == CONSOLE_PASSWORD and c.enabled is not False

    def evaluate(self, c: CredentialFacts, ctx: RuleContext) -> Verdict:
        label = f"console password of {identity_name(c)}"
        verdict = judge_last_use(c, ctx.now, ctx.policy.console_unused_days, label, created="set")
        return unless_state_unknown(verdict, c.enabled)


class HumanConsoleAndKeys(Rule):
    id = "human-console-and-keys"
    title = "People do not hold both console access and access keys"
    severity = "medium"
    subject = "identity"
    requirements = ("9.3.1.09",)
    scope_kind = "aws_iam"
    explanation = (
        "People should sign in interactively or through short-lived federated sessions; long-lived access keys belong "
        "to dedicated non-human identities. A human user fails when it has an enabled console password and at least "
        "one active access key at the same time. A user whose password or key state is unknown, where that could "
        "decide the outcome, is not assessed."
    )

    def applies(self, i: IdentityFacts) -> bool:
        return i.kind == HUMAN

    def evaluate(self, i: IdentityFacts, ctx: RuleContext) -> Verdict:
        console = unknown_console = 0
        keys: list[str] = []
        unknown_keys = 0
        for c in i.credentials:
            if c.credential_type == CONSOLE_PASSWORD:
                if c.enabled is True:
                    console += 1
                elif c.enabled is None:
                    unknown_console += 1
            elif c.credential_type == ACCESS_KEY:
                if c.enabled is True:
                    keys.append(short_id(c.external_id))
                elif c.enabled is None:
                    unknown_keys += 1
        data = {"console_password": bool(console), "active_access_keys": len(keys)}
        if console and keys:
            return failed(
                f"human user {i.name} has a console password and {len(keys)} active access "
                f"key{'s' if len(keys) > 1 else ''} ({', '.join(keys)})",
                **data,
            )
        if (console or unknown_console) and (keys or unknown_keys):
            return not_assessed(f"human user {i.name}: console password or access key status unknown", **data)
        if console:
            return passed(f"human user {i.name} has a console password and no active access key", **data)
        return passed(f"human user {i.name} has {len(keys)} active access key(s) and no console password", **data)


class PrivilegedUserNoMfa(Rule):
    id = "privileged-user-no-mfa"
    title = "Privileged users have MFA"
    severity = "high"
    subject = "identity"
    requirements = ("9.3.1.06",)
    scope_kind = "aws_iam"
    explanation = (
        "Users holding administrator-level permissions, directly or through a group, must have an active MFA device. "
        "The population is every privileged human user, and every privileged service user that has a console "
        "password (someone can sign in as it); the root user has its own rule. A user whose privilege could not be "
        "determined is outside the population, and one whose MFA state is unknown is not assessed."
    )

    def applies(self, i: IdentityFacts) -> bool:
        if i.privileged is not True:
            return False
        if i.kind == HUMAN:
            return True
        return i.kind == SERVICE and any(c.credential_type == CONSOLE_PASSWORD and c.enabled is not False for c in i.credentials)

    def evaluate(self, i: IdentityFacts, ctx: RuleContext) -> Verdict:
        label = f"privileged {i.kind} user {i.name}"
        data = {"privileged": True, "mfa_active": i.mfa_active, "identity_kind": i.kind}
        if i.mfa_active is True:
            return passed(f"{label}: MFA active", **data)
        if i.mfa_active is False:
            return failed(f"{label}: MFA not active", **data)
        return not_assessed(f"{label}: MFA state unknown", **data)
