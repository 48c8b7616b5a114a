"""The bad-input corpus through the Entra ID connector, end to end: application and credential
display names and owner logins served by the Graph simulator over HTTPS (JSON), collected,
applied and shown. Graph itself caps display names at 256 characters and owners' logins to
e-mail-like strings; the simulator sends worse. Each value is stored faithfully
(``expected_stored``) and escaped on the pages; odd dates are kept as unknown and reported."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.devtools.simulators.graph import GraphSimulator, password_credential
from apps.devtools.simulators.key_vault import certificate_paths
from apps.inventory.models import Credential, Identity
from apps.inventory.services.collection import collection_start
from apps.inventory.services.sources import source_create
from tests.support.hostile import DATE_STRINGS, TEXT, assert_escaped_html, assert_stored_faithfully
from tests.support.ledger import record_hostile

pytestmark = [pytest.mark.django_db, pytest.mark.hostile]
CORPUS = {k: v for k, v in TEXT.items() if k != "big_1m"}  # 1 MB × 3 fields × 20 entries proves nothing more


@pytest.fixture
def graph(settings):
    settings.AZURE_CREDENTIAL_CLASS = "apps.devtools.simulators.key_vault.SimulatorCredential"
    settings.AZURE_CONNECTION_VERIFY = certificate_paths()[0]
    settings.AZURE_RETRY_TOTAL = 1
    settings.AZURE_RETRY_BACKOFF_FACTOR = 0.01
    simulator = GraphSimulator().start()
    yield simulator
    assert simulator.violations == []
    simulator.stop()


def test_hostile_names_owners_and_dates(graph, grc_lead, client, django_capture_on_commit_callbacks):
    now = timezone.now()
    for key, value in CORPUS.items():
        graph.add_application(
            value,
            owners=[{"@odata.type": "#microsoft.graph.user", "mail": f"{value}"}],
            passwords=[password_credential(f"secret {key}: {value}", start=now - dt.timedelta(days=1), days=30)],
        )
    for key, text in DATE_STRINGS.items():
        graph.add_application(f"date-{key}", owners=["a@example.com"], passwords=[password_credential(f"date-{key}", start=text, end=text)])
    source = source_create(actor=grc_lead, name="tenant", kind="entra_tenant", graph_tenant_id=graph.tenant_id, graph_url=graph.url)
    with django_capture_on_commit_callbacks(execute=True):
        run = collection_start(actor=grc_lead, sources=[source])
    unit = run.units.get()
    assert unit.status == "succeeded", unit.errors

    too_long = {k for k, v in CORPUS.items() if len(v.encode("utf-8", "surrogatepass")) > 2000}
    for key in too_long:  # the inventory's documented limit on names (2,000 bytes): refused as items, said so
        assert not Credential.objects.filter(source=source, name__startswith=f"secret {key}: ").exists()
    refused = [e for e in unit.errors if e["code"] == "invalid_item"]
    assert len(refused) == 2 * len(too_long), refused  # the application and its secret
    record_hostile("connector: Entra ID (names over 2,000 bytes)", "item refused with an error", len(refused))
    for key, value in CORPUS.items():
        if key in too_long:
            continue
        cred = Credential.objects.get(source=source, name__startswith=f"secret {key}: ")
        assert_stored_faithfully(cred.name, f"secret {key}: {value}")
        assert_stored_faithfully(cred.identity.name, value)
        # The owner is the first owner's login, stripped and cut to 512 (a blank one is no owner).
        assert_stored_faithfully(cred.owner, value.strip()[:512])
    record_hostile("connector: Entra ID (display names, owners)", "stored", (len(CORPUS) - len(too_long)) * 3)

    # Dates Graph could not have sent (year 1, year 10000, Feb 30, markup): kept, unknown, reported.
    for key in DATE_STRINGS:
        cred = Credential.objects.get(source=source, name=f"date-{key}")
        # A bare date has no zone (Graph always sends one): unreadable, like Feb 30 or markup.
        assert cred.expires_at is None and cred.not_before is None, (key, cred.expires_at)
        assert set(cred.attributes["malformed_fields"]) == {"startDateTime", "endDateTime"}, key
    reported = [e for e in unit.errors if e["code"] == "malformed_date"]
    assert len(reported) == 2 * len(DATE_STRINGS)
    record_hostile("connector: Entra ID (dates)", "kept with the date unknown, item error", len(DATE_STRINGS))

    client.force_login(grc_lead)
    for url in (reverse("inventory:credential_list"), reverse("inventory:identity_list")):
        page = client.get(url, {"source": source.pk})
        assert page.status_code == 200
        assert_escaped_html(page, CORPUS.values())
    identity = Identity.objects.get(source=source, name=CORPUS["html_script"])
    page = client.get(reverse("inventory:identity_detail", args=[identity.pk]))
    assert page.status_code == 200
    assert_escaped_html(page, CORPUS.values())
