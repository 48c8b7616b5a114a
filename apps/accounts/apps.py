from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_roles(sender, **kwargs):
    from apps.accounts.services import roles_sync

    roles_sync()


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"

    def ready(self):
        from apps.accounts import signals  # noqa: F401  (login audit receivers)

        # Sync once after the whole migrate, when every app's permissions exist.
        post_migrate.connect(_sync_roles, dispatch_uid="keytrail_roles_sync")
