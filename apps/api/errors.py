"""Service refusals as API answers: the same errors the UI shows, as JSON.

PermissionRefused → 403 (recorded as ``access.denied``), ValidationFailed → 400,
IllegalTransition → 409. Nothing was changed in any of these cases.
"""

from __future__ import annotations

from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from apps.audit import events
from apps.core.errors import IllegalTransition, PermissionRefused, ValidationFailed


def exception_handler(exc, context):
    request = context.get("request")
    if isinstance(exc, PermissionRefused):
        events.access_denied(actor=request.user, permission=str(exc), path=request.get_full_path())
        return Response({"detail": str(exc)}, status=status.HTTP_403_FORBIDDEN)
    if isinstance(exc, ValidationFailed):
        body = {"detail": f"Nothing was changed: {exc}"}
        if len(exc.messages) > 1:
            body["errors"] = exc.messages  # every refusal, each naming its field
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, IllegalTransition):
        return Response({"detail": f"Nothing was changed: {exc}"}, status=status.HTTP_409_CONFLICT)
    return drf_exception_handler(exc, context)
