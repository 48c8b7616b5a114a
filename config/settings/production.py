"""Production: everything from the environment (or from files: DJANGO_SECRET_KEY_FILE=... for
any variable, config/settings/env.py), secure cookies and HSTS, static files served by
whitenoise, JSON logs. docs/operations.md lists every setting an operator sets."""

from config.settings.base import *  # noqa: F403
from config.settings.env import env

SECRET_KEY = env.str("DJANGO_SECRET_KEY")  # required: no default in production
# Required: manifests are signed with it. An empty or malformed value fails `check --deploy`
# (keytrail.E001/E002, apps/evidence/checks.py) and signing refuses to fall back to SECRET_KEY.
KEYTRAIL_PACK_SIGNING_KEY = env.str("KEYTRAIL_PACK_SIGNING_KEY").strip()
KEYTRAIL_PACK_SIGNING_KEY_REQUIRED = True
DEBUG = False
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
# A load balancer's probes and the metrics scraper speak plain HTTP to the web process.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
EMAIL_BACKEND = env.str("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")

# Static files (docs/adr/0008-production-serving.md): `manage.py collectstatic` writes hashed,
# pre-compressed (gzip; brotli too with KEYTRAIL_STATIC_BROTLI) copies to STATIC_ROOT; whitenoise serves them from the web
# process with a far-future, immutable cache header, so no front server is needed for them.
MIDDLEWARE = [*MIDDLEWARE]  # noqa: F405
MIDDLEWARE.insert(MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1, "whitenoise.middleware.WhiteNoiseMiddleware")
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "apps.core.staticfiles.StaticFilesStorage"}}  # noqa: F405
KEYTRAIL_STATIC_BROTLI = env.bool("KEYTRAIL_STATIC_BROTLI", default=False)

# One JSON event per line (request id, task id); Celery workers log through the same config
# instead of replacing the root logger with their own format.
KEYTRAIL_LOG_FORMAT = env.str("KEYTRAIL_LOG_FORMAT", default="json")
LOGGING["handlers"]["console"]["formatter"] = "json" if KEYTRAIL_LOG_FORMAT == "json" else "plain"  # noqa: F405
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
