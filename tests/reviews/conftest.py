from tests.support.reviews import campaign, inventory, people  # noqa: F401 - this package's fixtures
