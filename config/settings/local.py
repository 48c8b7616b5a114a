"""The one-machine demo: SQLite, Celery eager, DEBUG on, bound to 127.0.0.1."""

from config.settings.base import *  # noqa: F403
from config.settings.env import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = SECRET_KEY or "keytrail-local-demo-only-not-secret"  # noqa: F405
EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

# The demo's SQLite database and uploaded files live under var/ (git-ignored).
(BASE_DIR / "var").mkdir(exist_ok=True)  # noqa: F405
