"""The exception matcher the evaluation engine asks about every failing verdict.

Scope is matched precisely: a credential in ``credential_ids`` (by keytrail's id, so a key
rotated into a new key is a new credential and is not excused); an identity in
``identity_ids`` covers that identity's own verdicts and its credentials'; a source in
``source_ids`` covers every subject collected from it; a tag covers subjects carrying
exactly that key and value; a confirmed broad exception covers every subject of its rules.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from apps.exceptions_register.models import ExceptionRequest


class ScopeMatcher:
    def __init__(self, exceptions: list[ExceptionRequest]):
        self._by_rule: dict[str, list[tuple[int, dict, bool]]] = defaultdict(list)
        for exc in sorted(exceptions, key=lambda e: (e.expires_on, e.pk)):
            scope = {
                "credential_ids": frozenset(exc.scope.get("credential_ids", ())),
                "identity_ids": frozenset(exc.scope.get("identity_ids", ())),
                "source_ids": frozenset(exc.scope.get("source_ids", ())),
                "tag": exc.scope.get("tag"),
            }
            for rule_id in exc.rule_ids:
                self._by_rule[rule_id].append((exc.pk, scope, exc.scope_is_broad))

    def match(self, rule_id: str, subject: Any) -> int | None:
        for exception_id, scope, broad in self._by_rule.get(rule_id, ()):
            if broad or _covers(scope, subject):
                return exception_id
        return None


def _covers(scope: dict, subject: Any) -> bool:
    kind = type(subject).__name__
    if kind == "CredentialFacts":
        identity = subject.identity
        if subject.id in scope["credential_ids"] or subject.source_id in scope["source_ids"]:
            return True
        if identity is not None and identity.id in scope["identity_ids"]:
            return True
        return _tag(scope["tag"], subject.tags) or (identity is not None and _tag(scope["tag"], identity.tags))
    if kind == "IdentityFacts":
        return subject.id in scope["identity_ids"] or subject.source_id in scope["source_ids"] or _tag(scope["tag"], subject.tags)
    if kind == "SourceFacts":
        return subject.id in scope["source_ids"]
    return False


def _tag(tag: dict | None, tags: dict) -> bool:
    if not tag or not tags:
        return False
    return tags.get(tag["key"]) == tag["value"]


def matcher_for(now: datetime) -> ScopeMatcher:
    """Expire what is due, then index the approved, unexpired exceptions (settings.KEYTRAIL_EXCEPTION_MATCHER)."""
    from apps.exceptions_register.services import exception_expire_due

    today = now.date()
    exception_expire_due(today=today)
    approved = list(ExceptionRequest.objects.filter(state=ExceptionRequest.State.APPROVED, expires_on__gte=today))
    return ScopeMatcher(approved)
