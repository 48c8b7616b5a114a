"""Request and task ids on every log line, and JSON logs (one event per line).

``RequestIdMiddleware`` takes the balancer's ``X-Request-ID`` when it is a sane token (or makes
one), keeps it for the request's log lines and echoes it in the response. ``ContextFilter``
adds ``request_id`` and ``task_id`` (the running Celery task's) to every record, so a line from a
view and a line from a worker can both be traced to what caused them."""

from __future__ import annotations

import contextvars
import re
import uuid
from logging import Filter, LogRecord

from celery import current_task

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("keytrail_request_id", default="")
_SANE = re.compile(r"[A-Za-z0-9._:-]{1,128}")
HEADER = "X-Request-ID"


def request_id() -> str:
    return _request_id.get()


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get(HEADER, "")
        rid = given if _SANE.fullmatch(given) else uuid.uuid4().hex
        token = _request_id.set(rid)
        try:
            response = self.get_response(request)
        finally:
            _request_id.reset(token)
        response[HEADER] = rid
        return response


class ContextFilter(Filter):
    def filter(self, record: LogRecord) -> bool:
        record.request_id = _request_id.get()
        task = current_task
        record.task_id = (task.request.id or "") if task else ""
        return True
