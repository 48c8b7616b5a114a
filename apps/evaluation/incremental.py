"""Incremental evaluation: which subjects can keep their previous verdicts without being judged.

A subject's verdicts are a function of three things, and the carry covers each by construction
rather than by a list someone must keep up to date (docs/adr/0013-incremental-evaluation.md):

1. **Its facts**: :func:`credential_fingerprints` hashes *every field* of the facts dataclasses a
   rule can reach from its subject: a credential's own fields (its access reviews included), its
   identity's fields and the fields of every present credential of that identity (rules read
   ``identity.credentials``); an identity likewise. A field added to ``CredentialFacts``,
   ``IdentityFacts`` (or any dataclass they hold, e.g. source-level facts) is in the hash
   without anyone touching this module.
2. **Everything else the rules read** (:func:`context_key`): every field of ``RuleContext`` but
   the clock (the policy with all its limits and classification, and whatever is added later),
   the exception matcher's state (approved, unexpired exceptions), the loaded catalog versions,
   and the rule set: ids, classes, and the source text of the modules they are defined in.
   Any change gives a new key, and a new key means a cold evaluation.
3. **Time**: the engine watches each verdict's reads of ``ctx.now`` (:class:`ClockWatch`). A verdict
   that did not read the clock holds while facts and key hold. One that did holds only until the
   instant it states in ``Verdict.until`` (the next day tick of a count of days, the instant an
   age crosses a limit); one that read the clock without stating it is judged again every time.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from operator import attrgetter
from pathlib import Path
from typing import Any

import orjson

from apps.evaluation.rules.base import FOREVER, CredentialFacts, IdentityFacts, Rule, RuleContext

# Bump when what a carry row means changes: every later evaluation starts cold once.
CARRY_FORMAT = 1

# The two links between a credential and its identity (a cycle): hashed structurally below.
_LINKS = frozenset({"identity", "credentials"})
_OPTIONS = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


def _default(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [type(value).__name__, *(getattr(value, f.name) for f in dataclasses.fields(value))]
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    if isinstance(value, tuple):
        return list(value)
    if hasattr(value, "__dict__"):  # e.g. an exception matcher: its state
        return [type(value).__qualname__, vars(value)]
    return repr(value)


def _dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value, default=_default, option=_OPTIONS)
    except (TypeError, orjson.JSONEncodeError):  # a lone surrogate in a hostile tag value, a deep structure
        return repr(value).encode("utf-8", "surrogatepass")


def _digest(value: Any) -> str:
    return hashlib.blake2b(_dumps(value), digest_size=16).hexdigest()


_OWN_FIELDS: dict[type, Any] = {}


def _own(obj: Any) -> list[Any]:
    """Every field of a facts dataclass but the credential/identity links."""
    get = _OWN_FIELDS.get(type(obj))
    if get is None:
        names = tuple(f.name for f in dataclasses.fields(obj) if f.name not in _LINKS)
        # One C call for all fields (a tuple of them; a single name would give the value alone).
        get = _OWN_FIELDS[type(obj)] = attrgetter(*names) if len(names) > 1 else (lambda o, n=names: tuple(getattr(o, x) for x in n))
    return list(get(obj))


def identity_fingerprint(identity: IdentityFacts) -> str:
    """An identity's own facts and the facts of each of its present credentials."""
    return _digest([_own(identity), [_own(c) for c in identity.credentials]])


def credential_fingerprints(credentials: Iterable[CredentialFacts], identity_prints: dict[int, str]) -> dict[int, str]:
    """Each credential's own facts with its identity's fingerprint (which covers its siblings)."""
    return {c.id: _digest([_own(c), identity_prints.get(c.identity.id) if c.identity is not None else None]) for c in credentials}


def _rule_sources(rules: Sequence[Rule]) -> list[str]:
    """The source text of every module a rule is defined in and of the rule package's shared
    modules: a change to a rule's code is a change of the rule set."""
    paths: set[str] = set()
    for rule in rules:
        module = sys.modules.get(type(rule).__module__)
        path = inspect.getsourcefile(module) if module is not None else None
        if path:
            paths.add(path)
    paths.update(str(p) for p in Path(__file__).with_name("rules").glob("*.py"))
    paths.add(str(Path(__file__).with_name("engine.py")))
    return [hashlib.blake2b(Path(p).read_bytes(), digest_size=16).hexdigest() for p in sorted(paths)]


def context_key(*, rules: Sequence[Rule], ctx: RuleContext, matcher: Any, catalog: Any) -> str:
    """The key of everything outside a subject's own facts that its verdicts depend on."""
    context = {f.name: getattr(ctx, f.name) for f in dataclasses.fields(ctx) if f.name != "now"}
    rule_set = [(r.id, type(r).__module__, type(r).__qualname__, r.severity, r.subject, r.scope_kind, r.requirements) for r in rules]
    return _digest([CARRY_FORMAT, context, rule_set, _rule_sources(rules), matcher, catalog])


class ClockWatch:
    """A ``RuleContext`` that notes whether a rule read ``now`` (every other field passes through:
    copied as plain attributes, so only ``now`` goes through ``__getattr__``)."""

    def __init__(self, ctx: RuleContext):
        self._ctx = ctx
        self.read = False
        for f in dataclasses.fields(ctx):
            if f.name != "now":
                setattr(self, f.name, getattr(ctx, f.name))

    def __getattr__(self, name: str) -> Any:
        if name == "now":
            self.read = True
        return getattr(self._ctx, name)


def stored_until(until: datetime) -> datetime | None:
    """``valid_until`` as stored: None for a verdict that holds at any later time."""
    return None if until == FOREVER else until
