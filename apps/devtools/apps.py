from django.apps import AppConfig


class DevtoolsConfig(AppConfig):
    """The ``demo`` and ``bench_*`` management commands and the simulators behind them."""

    name = "apps.devtools"
    label = "devtools"
