from django.conf import settings


class SecurityHeadersMiddleware:
    """Headers Django does not set itself: Permissions-Policy, and no caching of pages that
    hold credential metadata or evidence (browsers and proxies keep nothing)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        if not request.path.startswith(settings.STATIC_URL if settings.STATIC_URL.startswith("/") else "/" + settings.STATIC_URL):
            response.setdefault("Cache-Control", "no-store")
        return response


class RefuseNulMiddleware:
    """A NUL character in the path or the query string cannot be stored or searched for
    (PostgreSQL refuses it in text): answer 400 before any view turns it into a 500.
    (Form fields refuse it already: Django's CharField validates against it.)"""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.http import HttpResponseBadRequest, JsonResponse

        if "\x00" in request.path or any("\x00" in k or any("\x00" in v for v in values) for k, values in request.GET.lists()):
            message = "A NUL character is not allowed in the address."
            if request.path.startswith("/api/"):  # the API answers JSON, as its schema says
                return JsonResponse({"detail": message}, status=400)
            return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
