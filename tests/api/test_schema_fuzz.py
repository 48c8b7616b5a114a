"""Schema-driven fuzzing of the API (schemathesis) against the schema keytrail generates.

Every operation is called with data generated from its schema, as a GRC lead (who may do
everything the API offers) over a seeded world (a source, a run with a failed unit, an
identity and its key, an evaluation with a finding, a control, a pending exception, a
signed-off and an in-review access-review campaign, an engagement with a stored pack). The
budget is fixed and the generation derandomised, so CI runs the same few hundred requests
every time, in well under a minute. Checks: no 5xx, every status code and every response
body as the schema says, the declared content type.
"""

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance, status_code_conformance

from tests.support.clients import issue
from tests.support.permission_matrix import matrix_world, world  # noqa: F401 - the seeded world

EXAMPLES_PER_OPERATION = 5  # × 53 operations ≈ 265 requests: the same budget as before reviews and packs joined


def _schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


# Deterministic and bounded: the fuzzing phase only, a fixed number of examples per operation.
CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": 27017,
        "generation": {"max-examples": EXAMPLES_PER_OPERATION, "deterministic": True},
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
    }
)
schema = schemathesis.openapi.from_dict(_schema(), config=CONFIG)
APP = get_wsgi_application()


@pytest.fixture
def keep_connection():
    """The WSGI handler closes the database connection after each request (``close_old_connections``);
    the test's transaction must survive it, as Django's own test client arranges."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def grc_token(world, keep_connection):  # noqa: F811
    people, _ = world
    return issue(people["grc_lead"], name="fuzz")


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case, grc_token):
    case.call_and_validate(
        app=APP,
        headers={"Authorization": f"Bearer {grc_token}"},
        checks=[not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance],
    )
