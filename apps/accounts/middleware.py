from urllib.parse import urlencode

from django.contrib.auth.views import redirect_to_login
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from apps.accounts.mfa import has_device, mfa_required


class LoginRequiredMiddleware:
    """Anonymous users see only the login page (and static files in the demo)."""

    # /api/ answers for itself: a token or the session, else 401 (a redirect means nothing to a script).
    # /healthz, /readyz and /metrics answer a load balancer or a scraper (metrics checks its own
    # token or address: apps/core/metrics.py).
    OPEN_PREFIXES = ("/accounts/login/", "/static/", "/healthz", "/readyz", "/metrics", "/api/")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.user.is_authenticated and not request.path.startswith(self.OPEN_PREFIXES):
            return redirect_to_login(request.get_full_path())
        return self.get_response(request)


class MFARequiredMiddleware:
    """A signed-in user who must use a second factor reaches nothing else until they have.

    Runs after django-otp's OTPMiddleware (which sets ``request.user.is_verified``). Users
    without a device are sent to enrolment, users with one to verification. API requests
    authenticated by a bearer token never carry a session user here, so they pass.
    """

    OPEN_PREFIXES = ("/accounts/mfa/", "/accounts/logout/", "/accounts/login/", "/static/", "/healthz", "/readyz", "/metrics")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if user.is_authenticated and not request.path.startswith(self.OPEN_PREFIXES) and not user.is_verified() and mfa_required(user):
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": "Two-factor verification required for this session."}, status=403)
            target = reverse("mfa_verify") if has_device(user) else reverse("mfa_setup")
            return redirect(f"{target}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)
