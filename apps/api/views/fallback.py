"""The answer for any other path under /api/v1/."""

from __future__ import annotations

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt  # answers every method with 404 and changes nothing: no CSRF page in its place
def not_found(request, path: str = ""):
    """Any other path under /api/v1/: a JSON 404 like every API answer (not the UI's HTML page)."""
    return JsonResponse({"detail": "Not found."}, status=404)
