"""Notifications: the e-mails sent about events people must act on, and the outbound webhooks
that carry the same events to chat or ticketing systems (docs/notifications.md).

State changes only through services.py. ``EmailNotification`` and ``WebhookDelivery`` are
keyed so that one event reaches one recipient (or one endpoint) once, whatever the retries.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class WebhookEndpoint(models.Model):
    """A receiver registered by the GRC lead. Its signing secret is stored encrypted (it must be
    read back to sign) and shown once, when it is made."""

    name = models.CharField(max_length=100)
    url = models.URLField(max_length=500)
    events = models.JSONField(default=list, help_text="The event names sent to this endpoint.")
    secret_encrypted = models.TextField()
    secret_hint = models.CharField(max_length=16, help_text="The first characters of the secret, to tell secrets apart.")
    active = models.BooleanField(default=True, db_index=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["name", "id"]
        permissions = [("manage_webhookendpoint", "Register, change and deactivate webhook endpoints")]

    def __str__(self) -> str:
        return self.name


class WebhookDelivery(models.Model):
    """One event sent to one endpoint, with its attempts (the delivery log)."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        RETRYING = "retrying", "Retrying"
        SUCCEEDED = "succeeded", "Delivered"
        FAILED = "failed", "Failed"

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.PROTECT, related_name="deliveries")
    event = models.CharField(max_length=64)
    event_id = models.UUIDField(help_text="The same for every endpoint and every retry of one event.")
    payload = models.JSONField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField()
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["endpoint", "event_id"], name="one_delivery_per_endpoint_and_event")]


class EmailNotification(models.Model):
    """One e-mail to one person about one event. ``key`` names the event occurrence and the
    recipient (and the day, for daily reminders): a second attempt to create it is a no-op."""

    key = models.CharField(max_length=200, unique=True)
    event = models.CharField(max_length=64, db_index=True)
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    to = models.CharField(max_length=254)
    subject = models.CharField(max_length=200)
    text_body = models.TextField()
    html_body = models.TextField()
    link = models.URLField(max_length=500)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
