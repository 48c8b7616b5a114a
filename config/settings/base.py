"""Settings shared by every environment. Values come from the environment via ``env``."""

from datetime import timedelta

from csp.constants import NONE, SELF

from config import pipeline
from config.settings.env import BASE_DIR, env

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
KEYTRAIL_VERSION = "0.1.0"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "guardian",
    "django_celery_beat",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "apps.core",
    "apps.accounts",
    "apps.audit",
    "apps.catalog",
    "apps.controls",
    "apps.inventory",
    "apps.evaluation",
    "apps.exceptions_register",
    "apps.reviews",
    "apps.evidence",
    "apps.notifications",
    "apps.home",
    "apps.api",
]

MIDDLEWARE = [
    "apps.core.logcontext.RequestIdMiddleware",
    "apps.core.metrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "apps.core.middleware.RefuseNulMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "apps.core.middleware.SecurityHeadersMiddleware",
    "apps.audit.middleware.AuditContextMiddleware",
    "apps.accounts.middleware.LoginRequiredMiddleware",
    "apps.accounts.middleware.MFARequiredMiddleware",
    "apps.audit.middleware.PermissionRefusedMiddleware",
    # Last, as django-axes asks: it turns a lockout raised during authentication into a response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.accounts.context_processors.roles",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'keytrail.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out username/address before any password check
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
ANONYMOUS_USER_NAME = None  # guardian: no anonymous user object; anonymous users see only the login page
GUARDIAN_RAISE_403 = False
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
# keytrail is in English only: Django's en-GB catalogues say what the English source says, and
# the translation machinery cost 20-30 % of rendering a list page (a lookup per date, number
# and truncation). Formats stay en-GB (LANGUAGE_CODE); tests/core/test_formats.py pins both.
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=BASE_DIR / "var" / "staticfiles")
MEDIA_ROOT = env.path("DJANGO_MEDIA_ROOT", default=BASE_DIR / "var" / "media")
MEDIA_URL = "media/"  # never served directly: downloads go through permission-checked views

# Sign-in: TOTP second factor (django-otp) for these roles, and for anyone who enrolled a device.
KEYTRAIL_MFA_REQUIRED_ROLES = env.list("KEYTRAIL_MFA_REQUIRED_ROLES", default=["grc_lead", "approver"])
OTP_TOTP_ISSUER = "keytrail"
OTP_TOTP_THROTTLE_FACTOR = 1  # seconds, doubled after each failed code
# Login throttling (django-axes): a username is locked from one address after this many failures.
AXES_FAILURE_LIMIT = env.int("KEYTRAIL_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("KEYTRAIL_LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_CALLABLE = "apps.accounts.throttling.throttling_username"  # hostile or huge names are cut, not a crash
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env.int("KEYTRAIL_SESSION_SECONDS", default=8 * 3600)  # a working day, then sign in again
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Content Security Policy (django-csp): everything from keytrail's own origin; no inline script,
# no inline style, no plug-ins, no framing. Inline SVG (charts, the MFA QR code) is markup, not script.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"

# Manual evidence attachments (controls): size cap and the content types we accept.
KEYTRAIL_EVIDENCE_MAX_BYTES = env.int("KEYTRAIL_EVIDENCE_MAX_BYTES", default=20 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# A bulk review decision posts up to 1,000 item ids (one page of 1,000) plus its own fields.
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1100

# Tag keys (case-insensitive) naming a credential's or identity's owner, in order of preference.
KEYTRAIL_OWNER_TAG_KEYS = env.list("KEYTRAIL_OWNER_TAG_KEYS", default=["owner", "owner-email", "ownerEmail", "contact"])
# Collection units still "running" after this long are taken to be lost with their worker.
KEYTRAIL_COLLECTION_STALE_MINUTES = env.int("KEYTRAIL_COLLECTION_STALE_MINUTES", default=45)
KEYTRAIL_COLLECTION_MAX_RETRIES = env.int("KEYTRAIL_COLLECTION_MAX_RETRIES", default=3)

# Evaluate automatically when a collection run finishes.
KEYTRAIL_EVALUATE_AFTER_COLLECTION = env.bool("KEYTRAIL_EVALUATE_AFTER_COLLECTION", default=True)
# Dotted path of a callable ``(now) -> matcher`` whose ``match(rule_id, subject)`` returns the id of
# an approved, unexpired exception covering that verdict, or None (see apps/evaluation/exceptions.py).
# What follows what (collection → evaluation → remediation check; sign-off → evaluation) and
# the evaluation's plug points: declared once, in config/pipeline.py.
KEYTRAIL_PIPELINE = pipeline.PIPELINE
KEYTRAIL_EXCEPTION_MATCHER = env.str("KEYTRAIL_EXCEPTION_MATCHER", default=pipeline.EXCEPTION_MATCHER)
KEYTRAIL_REVIEW_FACTS = env.str("KEYTRAIL_REVIEW_FACTS", default=pipeline.REVIEW_FACTS)
KEYTRAIL_REVIEW_FACTS_CLOCKED = env.str("KEYTRAIL_REVIEW_FACTS_CLOCKED", default=pipeline.REVIEW_FACTS_CLOCKED)
# Exception register: longest allowed duration per risk, which risks need two approvers,
# and how many days before expiry owners are reminded.
KEYTRAIL_EXCEPTION_MAX_DAYS = {
    "low": env.int("KEYTRAIL_EXCEPTION_MAX_DAYS_LOW", default=180),
    "medium": env.int("KEYTRAIL_EXCEPTION_MAX_DAYS_MEDIUM", default=180),
    "high": env.int("KEYTRAIL_EXCEPTION_MAX_DAYS_HIGH", default=90),
    "critical": env.int("KEYTRAIL_EXCEPTION_MAX_DAYS_CRITICAL", default=30),
}
KEYTRAIL_EXCEPTION_TWO_APPROVALS = env.list("KEYTRAIL_EXCEPTION_TWO_APPROVALS", default=["high", "critical"])
KEYTRAIL_EXCEPTION_REMINDER_DAYS = [int(d) for d in env.list("KEYTRAIL_EXCEPTION_REMINDER_DAYS", default=["30", "7", "1"])]

# Access reviews: reminder marks (days before the due date; daily once overdue), days a
# remediation has from its decision, and the identity tags that link a cloud identity to a
# keytrail user (besides its name equal to the user's username or e-mail), for self-review.
KEYTRAIL_REVIEW_REMINDER_DAYS = [int(d) for d in env.list("KEYTRAIL_REVIEW_REMINDER_DAYS", default=["7", "1"])]
KEYTRAIL_REVIEW_REMEDIATION_DAYS = env.int("KEYTRAIL_REVIEW_REMEDIATION_DAYS", default=14)
KEYTRAIL_REVIEW_IDENTITY_TAG_KEYS = env.list("KEYTRAIL_REVIEW_IDENTITY_TAG_KEYS", default=["keytrail-user", "email"])
# API tokens: mandatory expiry, at most this many days ahead; last use written at most once per interval.
KEYTRAIL_API_TOKEN_MAX_DAYS = env.int("KEYTRAIL_API_TOKEN_MAX_DAYS", default=90)
KEYTRAIL_API_TOKEN_LAST_USED_INTERVAL_SECONDS = env.int("KEYTRAIL_API_TOKEN_LAST_USED_INTERVAL_SECONDS", default=60)

KEYTRAIL_ORGANISATION_NAME = env.str("KEYTRAIL_ORGANISATION_NAME", default="Example Organisation")

# Evidence packs: the Ed25519 key that signs every manifest (32 bytes, hex). Empty: derived
# from SECRET_KEY (demo and tests; production.py requires it). The sample size allowed.
KEYTRAIL_PACK_SIGNING_KEY = env.str("KEYTRAIL_PACK_SIGNING_KEY", default="")
# After a key rotation: the retired keys' public halves (hex), so packs they signed still verify.
KEYTRAIL_PACK_RETIRED_PUBLIC_KEYS = env.list("KEYTRAIL_PACK_RETIRED_PUBLIC_KEYS", default=[])
KEYTRAIL_PACK_SIGNING_KEY_REQUIRED = False  # production.py: True (no fallback to SECRET_KEY)
KEYTRAIL_PACK_SAMPLE_MAX = env.int("KEYTRAIL_PACK_SAMPLE_MAX", default=500)
# A pack still queued or building after this long is failed "worker lost" by the beat sweep.
KEYTRAIL_PACK_STALE_MINUTES = env.int("KEYTRAIL_PACK_STALE_MINUTES", default=120)
KEYTRAIL_PACK_UPLOAD_MAX_BYTES = env.int("KEYTRAIL_PACK_UPLOAD_MAX_BYTES", default=200 * 1024 * 1024)
# Verifying a pack (docs/evidence-packs.md): what its entries may expand to in total, and the
# largest expansion ratio of an entry over the floor (a 20,000-credential pack: 68 MB from
# 7.4 MB, about 10x per file). Uploads checked per user in a sliding window.
KEYTRAIL_PACK_VERIFY_MAX_EXPANDED_BYTES = env.int("KEYTRAIL_PACK_VERIFY_MAX_EXPANDED_BYTES", default=2 * 1024 * 1024 * 1024)
KEYTRAIL_PACK_VERIFY_MAX_RATIO = env.int("KEYTRAIL_PACK_VERIFY_MAX_RATIO", default=100)
KEYTRAIL_PACK_VERIFY_RATIO_FLOOR_BYTES = env.int("KEYTRAIL_PACK_VERIFY_RATIO_FLOOR_BYTES", default=8 * 1024 * 1024)
KEYTRAIL_PACK_VERIFY_UPLOADS_PER_WINDOW = env.int("KEYTRAIL_PACK_VERIFY_UPLOADS_PER_WINDOW", default=10)
KEYTRAIL_PACK_VERIFY_WINDOW_SECONDS = env.int("KEYTRAIL_PACK_VERIFY_WINDOW_SECONDS", default=600)

# Audit checkpoints (docs/security.md): the chain's head signed at intervals and at every pack
# build, with this Ed25519 key (32 bytes, hex; empty: the pack-signing key). Optionally each
# checkpoint is also written outside the database: file:///absolute/path.jsonl (appended) or
# s3://bucket/prefix/ (Object Lock, COMPLIANCE mode, kept this many days).
KEYTRAIL_AUDIT_SIGNING_KEY = env.str("KEYTRAIL_AUDIT_SIGNING_KEY", default="")
KEYTRAIL_AUDIT_ANCHOR_TARGET = env.str("KEYTRAIL_AUDIT_ANCHOR_TARGET", default="")
KEYTRAIL_AUDIT_ANCHOR_RETENTION_DAYS = env.int("KEYTRAIL_AUDIT_ANCHOR_RETENTION_DAYS", default=2557)
KEYTRAIL_AUDIT_ANCHOR_S3_ENDPOINT_URL = env.str("KEYTRAIL_AUDIT_ANCHOR_S3_ENDPOINT_URL", default="")

# KEYTRAIL_LOG_FORMAT=json (production's default): one JSON object per line, with the request id
# (X-Request-ID) and the Celery task id on every event, for a log shipper to index.
KEYTRAIL_LOG_FORMAT = env.str("KEYTRAIL_LOG_FORMAT", default="plain")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "apps.core.logcontext.ContextFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(task_id)s %(process)d",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger", "process": "pid"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if KEYTRAIL_LOG_FORMAT == "json" else "plain",
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # azure-core logs every request and its headers at INFO.
        "azure": {"level": "WARNING"},
        "botocore": {"level": "WARNING"},
        "celery.app.trace": {"level": "WARNING"},
        "axes": {"level": "WARNING"},  # it logs every sign-in at INFO
        # WeasyPrint logs every layout step at INFO, and each URL its fetcher refuses.
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}

from config.settings.api import *  # noqa: E402,F403
from config.settings.aws import *  # noqa: E402,F403
from config.settings.azure import *  # noqa: E402,F403
from config.settings.celery import *  # noqa: E402,F403
from config.settings.notifications import *  # noqa: E402,F403
from config.settings.observability import *  # noqa: E402,F403
from config.settings.storage import *  # noqa: E402,F403
