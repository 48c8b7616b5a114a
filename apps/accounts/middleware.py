from django.contrib.auth.views import redirect_to_login


class LoginRequiredMiddleware:
    """Anonymous users see only the login page (and static files in the demo)."""

    # /api/ answers for itself: a token or the session, else 401 (a redirect means nothing to a script).
    OPEN_PREFIXES = ("/accounts/login/", "/static/", "/healthz", "/api/")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.user.is_authenticated and not request.path.startswith(self.OPEN_PREFIXES):
            return redirect_to_login(request.get_full_path())
        return self.get_response(request)
