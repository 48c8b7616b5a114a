"""Production: everything from the environment, secure cookies and HSTS."""

from config.settings.base import *  # noqa: F403
from config.settings.env import env

SECRET_KEY = env.str("DJANGO_SECRET_KEY")  # required: no default in production
# Required: manifests are signed with it. An empty or malformed value fails `check --deploy`
# (keytrail.E001/E002, apps/evidence/checks.py) and signing refuses to fall back to SECRET_KEY.
KEYTRAIL_PACK_SIGNING_KEY = env.str("KEYTRAIL_PACK_SIGNING_KEY")
KEYTRAIL_PACK_SIGNING_KEY_REQUIRED = True
DEBUG = False
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
EMAIL_BACKEND = env.str("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
