from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    """keytrail's user. Roles are groups (see apps.accounts.roles); reach is per object."""

    class Meta:
        ordering = ["username"]

    def __str__(self) -> str:
        full = self.get_full_name()
        return f"{full} ({self.username})" if full else self.username
