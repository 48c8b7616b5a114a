import pytest

from apps.accounts.roles import Role
from apps.catalog.loader import read_catalog
from apps.catalog.services import catalog_load
from tests.factories import make_user

# The reliability tallies: collected in every xdist worker, merged and printed by the controller.
from tests.support.ledger import pytest_sessionfinish, pytest_terminal_summary, pytest_testnodedown  # noqa: F401


@pytest.fixture
def catalog(db):
    catalog_load(data=read_catalog())
    from apps.catalog.models import Requirement

    return Requirement.objects.order_by("position")


@pytest.fixture
def grc_lead(db):
    return make_user(Role.GRC_LEAD, username="grc")


@pytest.fixture
def approver(db):
    return make_user(Role.APPROVER, username="approver")


@pytest.fixture
def reviewer(db):
    return make_user(Role.REVIEWER, username="reviewer")


@pytest.fixture
def auditor(db):
    return make_user(Role.AUDITOR, username="auditor")


@pytest.fixture
def control(db, catalog, grc_lead):
    from apps.controls.services import control_create

    return control_create(
        actor=grc_lead,
        title="Scheduled rotation",
        owner=grc_lead,
        narrative="Keys rotate every 90 days.",
        requirements=list(catalog[:2]),
        rule_ids=["iam-key-rotation-age"],
    )
