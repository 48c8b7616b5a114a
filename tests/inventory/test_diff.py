"""The repeat collection's diff inside the database (apps/inventory/services/diff.py): what two
units on two workers do to each other.

PostgreSQL only: the statistics refresh (ANALYZE) and its lock exist only there.
"""

import time

import pytest
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction

from apps.inventory.models import Credential, Identity
from apps.inventory.services.diff import SeenSet

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def other_unit():
    """A second database connection, as another worker's unit has: its transaction stays open
    until the test commits it."""
    if connection.vendor != "postgresql":
        pytest.skip("ANALYZE and its lock are PostgreSQL's")
    other = connections.create_connection(DEFAULT_DB_ALIAS)
    other.set_autocommit(False)
    yield other
    other.rollback()
    other.close()


def test_a_unit_does_not_wait_for_the_statistics_refresh_of_a_unit_still_running(other_unit):
    # The other unit analysed the tables in its transaction and is still streaming: it holds
    # ANALYZE's lock until it commits.
    with other_unit.cursor() as cursor:
        cursor.execute(f"ANALYZE {Identity._meta.db_table}, {Credential._meta.db_table}")
    with transaction.atomic():
        with connection.cursor() as cursor:
            # A unit that waits for the lock fails here instead of hanging the test.
            cursor.execute("SET LOCAL statement_timeout = '5s'")
        seen = SeenSet(source_id=1, scope="aws_iam")
        started = time.monotonic()
        for batch in (1, 2, 3):  # the refresh is due from the third batch on
            assert seen.credential_changes(batch, [("access_key", f"AKIA{batch}", "fp")]) == [("access_key", f"AKIA{batch}", None, False)]
        assert time.monotonic() - started < 2
        assert not seen.analyzed  # not yet: the other unit holds the lock

        other_unit.commit()  # the other unit finished: the next batch refreshes the statistics
        assert seen.credential_changes(4, [("access_key", "AKIA4", "fp")]) == [("access_key", "AKIA4", None, False)]
        assert seen.analyzed
