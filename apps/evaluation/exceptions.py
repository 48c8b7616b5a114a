"""Where the exception register plugs into evaluation.

The engine asks a *matcher* about every failing verdict: ``matcher.match(rule_id, subject)``
returns the id of an approved, unexpired exception whose scope covers exactly that verdict,
or None. A covered verdict becomes ``excepted`` (never ``pass``) and links to the exception.
``settings.KEYTRAIL_EXCEPTION_MATCHER`` names a callable ``(now) -> matcher``; until the
exception register provides one, nothing is excepted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from django.conf import settings
from django.utils.module_loading import import_string


class ExceptionMatcher(Protocol):
    def match(self, rule_id: str, subject: Any) -> int | None: ...


class _NoExceptions:
    def match(self, rule_id: str, subject: Any) -> int | None:
        return None


def no_exceptions(now: datetime) -> ExceptionMatcher:
    return _NoExceptions()


def load_exception_matcher(now: datetime) -> ExceptionMatcher:
    return import_string(settings.KEYTRAIL_EXCEPTION_MATCHER)(now)
