from django.apps import AppConfig


class ExceptionsRegisterConfig(AppConfig):
    # Not "exceptions": that would shadow Python's built-in module name in imports.
    name = "apps.exceptions_register"
    label = "exceptions_register"
