"""API tokens, managed the way keytrail asks others to manage secrets.

A token is ``kt_<public id>_<secret>``. Only the SHA-256 of the whole token is stored; the
public id (not secret) finds the row, then the hash is compared in constant time. Every
token has an owner, a name, a scope (read or read-write) and a mandatory expiry; it can be
revoked; its last use is recorded (at most once a minute, so reads stay reads).
"""

from django.conf import settings
from django.db import models
from django.utils import timezone


class ApiToken(models.Model):
    class Scope(models.TextChoices):
        READ = "read", "Read only"
        WRITE = "write", "Read and write"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="api_tokens")
    name = models.CharField(max_length=100)
    public_id = models.CharField(max_length=16, unique=True)
    secret_sha256 = models.CharField(max_length=64)
    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.READ)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        permissions = [("revoke_any_apitoken", "Can revoke any user's API token")]

    def __str__(self) -> str:
        return f"{self.name} (kt_{self.public_id}…)"

    @property
    def prefix(self) -> str:
        """What may be shown of the token: enough to recognise it, useless to an attacker."""
        return f"kt_{self.public_id}_…"

    def state_at(self, now=None) -> str:
        now = now or timezone.now()
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= now:
            return "expired"
        return "active"

    @property
    def state(self) -> str:
        return self.state_at()
