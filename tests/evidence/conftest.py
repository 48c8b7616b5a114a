from tests.support.evidence import world  # noqa: F401 - this package's fixture (shared: tests/support/evidence.py)
