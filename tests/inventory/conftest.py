import pytest

from apps.inventory.models import Source


@pytest.fixture
def aws_source(db, grc_lead):
    from apps.inventory.services.sources import source_create

    return source_create(
        actor=grc_lead,
        name="prod",
        kind=Source.Kind.AWS_ACCOUNT,
        role_arn="arn:aws:iam::123456789012:role/keytrail-audit",
        regions=["eu-west-1", "us-east-1"],
    )
