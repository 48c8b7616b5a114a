"""A rule that names its ``credential_types`` is offered only credentials of those types by the
engine: that must never leave out a credential ``applies`` would have taken. For every such rule
and every other credential type, credentials in many states (enabled or not, expiring or not,
scheduled for deletion or not, of human, service and root identities, foreign Entra apps...)
are all refused by ``applies`` and ``applies_in``."""

from __future__ import annotations

import functools
import itertools

import pytest

from apps.connectors.kinds import CredentialKind
from apps.evaluation.rules.registry import all_rules
from tests.evaluation.rules.facts import ago, ahead, cred, ctx, identity

DECLARED = [r for r in all_rules() if r.credential_types is not None]


@functools.cache
def _variants(credential_type: str) -> list:
    """Credentials of ``credential_type`` in as many states as the rules look at."""
    found = []
    for enabled, expires, deleted, kind, privileged, foreign, rotation in itertools.product(
        (True, False, None),
        (None, ago(5), ahead(5), ahead(400)),
        (None, ago(1)),
        ("human", "service", "root"),
        (True, False),
        (True, None),
        (True, False),
    ):
        person = identity(kind=kind, privileged=privileged, tags={"break-glass": "true", "third-party": "acme"})
        c = cred(
            credential_type,
            identity=person,
            enabled=enabled,
            expires_at=expires,
            deleted_at=deleted,
            rotation_enabled=rotation,
            tags={"owner": "x"},
            attributes={"foreign_tenant": foreign, "object_type": "service principal"},
        )
        found.append(c)
    found.append(cred(credential_type, identity=None))
    return found


def test_declared_rules_are_credential_rules_and_most_rules_declare():
    assert all(r.subject == "credential" for r in DECLARED)
    assert len(DECLARED) >= 30  # the point is the speed: keep rules declaring their types


@pytest.mark.parametrize("rule", DECLARED, ids=lambda r: r.id)
def test_applies_refuses_every_credential_type_not_declared(rule):
    context = ctx()
    assert rule.credential_types <= set(CredentialKind.values)
    for credential_type in sorted(set(CredentialKind.values) - rule.credential_types):
        for c in _variants(credential_type):
            assert not rule.applies(c), (rule.id, credential_type)
            assert not rule.applies_in(c, context), (rule.id, credential_type)
