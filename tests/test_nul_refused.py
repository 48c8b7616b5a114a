"""A NUL character in an address is refused with 400 on every page (found by fuzzing the API:
PostgreSQL cannot hold it, and a filter would otherwise end in a 500)."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url", ["/inventory/credentials/?q=%00", "/controls/?q=a%00b", "/exceptions/?owner=%00", "/posture/requirements/%00/"]
)
def test_a_nul_in_the_address_is_a_400_not_a_500(client, grc_lead, url):
    client.force_login(grc_lead)
    assert client.get(url).status_code == 400


def test_the_api_refuses_it_in_json(client, grc_lead):
    client.force_login(grc_lead)
    response = client.get("/api/v1/credentials/?q=%00")
    assert response.status_code == 400 and "NUL" in response.json()["detail"]
