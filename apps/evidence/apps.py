from django.apps import AppConfig


class EvidenceConfig(AppConfig):
    name = "apps.evidence"
    label = "evidence"
    verbose_name = "Evidence packs"

    def ready(self) -> None:
        from apps.evidence import checks  # noqa: F401 - registers the signing-key system checks
