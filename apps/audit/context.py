"""Where the current request came from, for audit events written deeper in the stack."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestMeta:
    ip_address: str | None = None
    user_agent: str = ""
    request_id: str = ""
    origin: str = "web"  # web | worker | command


_current: contextvars.ContextVar[RequestMeta | None] = contextvars.ContextVar("keytrail_request_meta", default=None)


def current_meta() -> RequestMeta:
    return _current.get() or RequestMeta(origin="system")


def set_meta(meta: RequestMeta | None) -> contextvars.Token:
    return _current.set(meta)


def reset_meta(token: contextvars.Token) -> None:
    _current.reset(token)
