"""Tests: PostgreSQL (DATABASE_URL, default the local server), Celery eager unless a test
starts a real worker, fast password hashing, media in a temp dir."""

import tempfile

from config.settings.base import *  # noqa: F403
from config.settings.env import env

SECRET_KEY = "keytrail-tests-not-secret"
# Development tooling: the simulated clouds the tests collect from, and the commands they run.
INSTALLED_APPS = [*INSTALLED_APPS, "apps.devtools"]  # noqa: F405
DATABASES = {"default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/keytrail")}
# Transactional tests flush tables with TRUNCATE; the audit table's trigger allows it only
# on connections that opt in (production connections never do).
# (PostgreSQL only: a module may run on SQLite, the demo's database, with DATABASE_URL=sqlite:///...)
if "postgresql" in DATABASES["default"]["ENGINE"]:
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c keytrail.allow_truncate=on"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# A real worker (another process) is given the test process's media directory.
MEDIA_ROOT = env.str("KEYTRAIL_TEST_MEDIA_ROOT", default="") or tempfile.mkdtemp(prefix="keytrail-test-media-")
# A real worker in tests/notifications/test_worker.py sends through SMTP to the test's server.
EMAIL_BACKEND = env.str("KEYTRAIL_TEST_EMAIL_BACKEND", default="django.core.mail.backends.locmem.EmailBackend")
# Webhook receivers and the SMTP server in the tests listen on 127.0.0.1; the SSRF tests turn this off.
KEYTRAIL_WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True
KEYTRAIL_WEBHOOK_BACKOFF_SECONDS = env.float("KEYTRAIL_WEBHOOK_BACKOFF_SECONDS", default=1.0)
# Eager by default; a real worker (tests/support/worker.py) runs with KEYTRAIL_TEST_BROKER_URL set.
CELERY_BROKER_URL = env.str("KEYTRAIL_TEST_BROKER_URL", default=EAGER_BROKER_URL)  # noqa: F405
CELERY_TASK_ALWAYS_EAGER = CELERY_BROKER_URL == EAGER_BROKER_URL  # noqa: F405
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("KEYTRAIL_BROKER_VISIBILITY_TIMEOUT", default=3600)}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Tests sign users in with force_login; the MFA tests turn the requirement on themselves.
KEYTRAIL_MFA_REQUIRED_ROLES = []
