"""A credential rule's ``credential_types`` (the engine offers it only credentials of these types)
must hold every credential its population can contain: its ``applies`` and ``applies_in`` are false
for every credential of any other type, however its other facts read; and each declared type can
be in the population (the declaration is not wider than the rule)."""

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from apps.connectors.kinds import CredentialKind
from apps.evaluation.engine import run_rules
from apps.evaluation.exceptions import no_exceptions
from apps.evaluation.policy import default_policy
from apps.evaluation.rules.base import CredentialFacts, IdentityFacts, RuleContext
from apps.evaluation.rules.registry import all_rules

NOW = datetime(2026, 11, 1, tzinfo=UTC)
CTX = RuleContext(policy=default_policy(), now=NOW)
TYPED = [rule for rule in all_rules() if rule.subject == "credential" and rule.credential_types is not None]


def _identity(kind: str, privileged: bool | None, third_party: bool) -> IdentityFacts:
    tags = {"third-party": "true", "vendor": "acme", "external": "yes"} if third_party else {}
    return IdentityFacts(1, 1, "AIDA1", "u", kind, NOW - timedelta(days=400), privileged, False, "", tags, {"path": "/"})


def _variants(kind: str):
    identities = [None, *(_identity(k, p, t) for k, p, t in itertools.product(("human", "service"), (True, None), (False, True)))]
    for enabled, identity, deleted, expires, foreign, credential_class in itertools.product(
        (True, False, None),
        identities,
        (None, NOW - timedelta(days=1)),
        (None, NOW + timedelta(days=5)),
        (True, None),
        ("default", "external-api"),
    ):
        attributes = {"foreign_tenant": foreign, "object_type": "service principal"}
        yield CredentialFacts(
            7, 1, "aws_iam", kind, "AKIAEXAMPLE1234", "name", credential_class, enabled, NOW - timedelta(days=500), None, None, None,
            expires, None, True, 30, None, deleted, "", {}, attributes, identity,
        )  # fmt: skip


VARIANTS = {kind.value: list(_variants(kind.value)) for kind in CredentialKind}


def test_rules_declare_their_credential_types():
    assert len(TYPED) >= 35  # all but the rules over every type (credential-not-reviewed)


@pytest.mark.parametrize("rule", TYPED, ids=lambda r: r.id)
def test_a_rule_applies_to_no_credential_outside_its_declared_types(rule):
    for kind, variants in VARIANTS.items():
        in_population = [c for c in variants if rule.applies(c) or rule.applies_in(c, CTX)]
        if kind in rule.credential_types:
            assert in_population, f"{rule.id} declares {kind} but none of its credentials is in the population"
        else:
            assert not in_population, f"{rule.id} applies to a {kind} it does not declare"


def test_the_engine_offers_a_typed_rule_only_its_types_and_keeps_the_order():
    seen = []

    class Spy(TYPED[0].__class__):
        credential_types = frozenset({"kv_secret", "access_key"})

        def applies(self, c):
            seen.append(c.credential_type)
            return False

    credentials = [VARIANTS[kind][0] for kind in ("access_key", "sm_secret", "kv_secret", "console_password", "access_key")]
    run_rules(rules=[Spy()], subjects={"credential": credentials}, ctx=CTX, matcher=no_exceptions(NOW))
    assert seen == ["access_key", "kv_secret", "access_key"]
