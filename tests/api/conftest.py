from tests.support.clients import api_as  # noqa: F401 - this package's fixture
