from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"

    def ready(self) -> None:
        from django.urls import register_converter

        from apps.core.ids import IdConverter

        # <id:pk> in every URL conf: ids from 1 to 2**63-1 (apps/core/ids.py), else a 404.
        register_converter(IdConverter, "id")
