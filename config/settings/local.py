"""The one-machine demo: SQLite, Celery eager, DEBUG on, bound to 127.0.0.1."""

from config.settings.base import *  # noqa: F403
from config.settings.env import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = SECRET_KEY or "keytrail-local-demo-only-not-secret"  # noqa: F405
# The demo's e-mails (review assignments, approvals, reminders: docs/notifications.md) are written
# to var/mail/, one file per batch, rather than sent or printed over the demo's own output.
EMAIL_BACKEND = env.str("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = BASE_DIR / "var" / "mail"  # noqa: F405
# The demo's webhook receivers (if any) run on this machine.
KEYTRAIL_WEBHOOK_ALLOW_PRIVATE_ADDRESSES = env.bool("KEYTRAIL_WEBHOOK_ALLOW_PRIVATE_ADDRESSES", default=True)
# Development tooling (the `demo` and `bench_*` commands, the simulated clouds): never in production.
INSTALLED_APPS = [*INSTALLED_APPS, "apps.devtools"]  # noqa: F405

# The demo's SQLite database and uploaded files live under var/ (git-ignored).
(BASE_DIR / "var").mkdir(exist_ok=True)  # noqa: F405
# The demo's users sign in with a password only; production asks GRC leads and approvers for a
# TOTP code too (base settings). Any demo user can enrol an authenticator app at /accounts/mfa/.
KEYTRAIL_MFA_REQUIRED_ROLES = env.list("KEYTRAIL_MFA_REQUIRED_ROLES", default=[])

# The demo runs a Celery worker thread beside the web server (apps/devtools/demo/worker.py), so
# SQLite sees concurrent writers: write-ahead logging lets pages read while the worker writes,
# IMMEDIATE transactions take the write lock up front (no "database is locked" on an upgrade),
# and a writer waits up to 30 s for the lock instead of failing.
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    DATABASES["default"].setdefault("OPTIONS", {}).update(  # noqa: F405
        {"timeout": 30, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
    )
