"""Where to send a person back to: a ``next`` parameter, only when it stays on this site."""

from __future__ import annotations

from django.utils.http import url_has_allowed_host_and_scheme


def safe_next(request, default: str) -> str:
    """The posted (or queried) ``next`` when it is a URL of this host (and HTTPS when the request
    is), else ``default``: ``https://evil.example/x``, ``//evil.example/x``, ``/\\evil.example``
    and ``javascript:`` are refused by Django's ``url_has_allowed_host_and_scheme``."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return default
