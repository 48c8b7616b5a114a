"""Eager runs (the demo, the benchmarks, the tests) name an in-memory broker with a host, so kombu
does not log "No hostname was supplied. Reverting to default 'localhost'" (issue #20)."""

import logging

from django.conf import settings
from kombu import Connection

from config.settings.celery import EAGER_BROKER_URL


def test_the_eager_broker_url_names_a_host_and_kombu_stays_quiet(caplog):
    assert settings.CELERY_TASK_ALWAYS_EAGER and settings.CELERY_BROKER_URL == EAGER_BROKER_URL
    with caplog.at_level(logging.WARNING, logger="kombu.connection"):
        conn = Connection(EAGER_BROKER_URL)
        assert conn.info()["hostname"] == "localhost" and conn.clone().transport_cls == "memory"
        Connection("memory://").info()  # what the setting was: the warning this avoids
    warnings = [r.getMessage() for r in caplog.records if r.name == "kombu.connection"]
    assert warnings == ["No hostname was supplied. Reverting to default 'localhost'"]
