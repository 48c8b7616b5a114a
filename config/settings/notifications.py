"""Notifications (apps.notifications, docs/notifications.md): the mail server, deep links and
outbound webhooks."""

from config.settings.env import env

# The address people reach keytrail at: every e-mail and webhook links to it.
KEYTRAIL_BASE_URL = env.str("KEYTRAIL_BASE_URL", default="http://127.0.0.1:8000")

# The mail server (Django's mail framework; the backend is chosen per environment).
EMAIL_HOST = env.str("DJANGO_EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("DJANGO_EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("DJANGO_EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("DJANGO_EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("DJANGO_EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env.bool("DJANGO_EMAIL_USE_SSL", default=False)
EMAIL_TIMEOUT = env.int("DJANGO_EMAIL_TIMEOUT", default=30)
DEFAULT_FROM_EMAIL = env.str("DJANGO_DEFAULT_FROM_EMAIL", default="keytrail <keytrail@localhost>")
# Attempts at one e-mail before it is left failed (with its error) in the notification log.
KEYTRAIL_EMAIL_MAX_ATTEMPTS = env.int("KEYTRAIL_EMAIL_MAX_ATTEMPTS", default=5)

# Webhooks: attempts per delivery, the first retry's delay (doubling each time, capped), and
# the request timeout. Endpoint secrets are encrypted under a key derived from this value
# (default: SECRET_KEY); changing it makes every endpoint's secret unreadable (rotate them).
KEYTRAIL_WEBHOOK_MAX_ATTEMPTS = env.int("KEYTRAIL_WEBHOOK_MAX_ATTEMPTS", default=8)
KEYTRAIL_WEBHOOK_BACKOFF_SECONDS = env.float("KEYTRAIL_WEBHOOK_BACKOFF_SECONDS", default=30.0)
KEYTRAIL_WEBHOOK_BACKOFF_MAX_SECONDS = env.float("KEYTRAIL_WEBHOOK_BACKOFF_MAX_SECONDS", default=3600.0)
KEYTRAIL_WEBHOOK_TIMEOUT_SECONDS = env.float("KEYTRAIL_WEBHOOK_TIMEOUT_SECONDS", default=10.0)
KEYTRAIL_WEBHOOK_ENCRYPTION_KEY = env.str("KEYTRAIL_WEBHOOK_ENCRYPTION_KEY", default="")
# A PEM bundle of the CAs trusted for https receivers (an internal CA); empty: the system's store.
KEYTRAIL_WEBHOOK_CA_BUNDLE = env.str("KEYTRAIL_WEBHOOK_CA_BUNDLE", default="")
# Off: webhooks go only to public addresses (no loopback, private, link-local). The tests and
# the demo, whose receivers run on 127.0.0.1, turn it on (docs/notifications.md, "SSRF").
KEYTRAIL_WEBHOOK_ALLOW_PRIVATE_ADDRESSES = env.bool("KEYTRAIL_WEBHOOK_ALLOW_PRIVATE_ADDRESSES", default=False)
