import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.controls.models import Control, ControlEvidence

pytestmark = pytest.mark.django_db


def _form(control, **overrides):
    data = {
        "title": control.title,
        "requirements": [r.pk for r in control.requirements.all()],
        "owner": control.owner_id,
        "narrative": control.narrative,
        "implementation_status": control.implementation_status,
        "test_frequency": control.test_frequency,
        "rule_ids": ", ".join(control.rule_ids),
    }
    data.update(overrides)
    return data


def test_grc_lead_creates_and_edits_a_control(client, grc_lead, catalog):
    client.force_login(grc_lead)
    response = client.post(
        reverse("controls:create"),
        {
            "title": "Vault storage",
            "requirements": [catalog[3].pk, catalog[4].pk],
            "owner": grc_lead.pk,
            "narrative": "All secrets in the vault.",
            "implementation_status": "implemented",
            "test_frequency": "continuous",
            "rule_ids": "kv-secret-no-expiry, kv-secret-no-expiry",
        },
    )
    control = Control.objects.get(title="Vault storage")
    assert response.status_code == 302 and response["Location"] == reverse("controls:detail", args=[control.pk])
    assert control.rule_ids == ["kv-secret-no-expiry"]
    client.post(reverse("controls:edit", args=[control.pk]), _form(control, narrative="Updated narrative."))
    control.refresh_from_db()
    assert control.narrative == "Updated narrative."
    page = client.get(reverse("controls:detail", args=[control.pk])).content.decode()
    assert "control.updated" in page and "control.created" in page  # history on the object


def test_invalid_rule_ids_are_refused(client, grc_lead, control):
    client.force_login(grc_lead)
    response = client.post(reverse("controls:edit", args=[control.pk]), _form(control, rule_ids="ok-rule, DROP TABLE"))
    assert response.status_code == 200 and "Not a rule id" in response.content.decode()


def test_forged_post_for_an_object_out_of_reach_changes_nothing(client, reviewer, control):
    client.force_login(reviewer)
    response = client.post(reverse("controls:edit", args=[control.pk]), _form(control, title="pwned"))
    assert response.status_code == 404
    control.refresh_from_db()
    assert control.title != "pwned"
    denial = AuditEvent.objects.get(event_type="access.denied")
    assert denial.actor == reviewer and denial.changes["permission"] == "controls.view_control"


def test_auditor_with_view_cannot_change(client, auditor, control, grc_lead):
    from apps.controls.services import control_share

    control_share(actor=grc_lead, control=control, grantee=auditor, permissions=["view_control"])
    client.force_login(auditor)
    response = client.post(reverse("controls:edit", args=[control.pk]), _form(control, title="changed"))
    assert response.status_code == 403
    control.refresh_from_db()
    assert control.title == "Scheduled rotation"
    upload = client.post(
        reverse("controls:evidence_upload", args=[control.pk]), {"file": SimpleUploadedFile("x.txt", b"x"), "effective_date": "2026-01-01"}
    )
    assert upload.status_code == 403 and ControlEvidence.objects.count() == 0


def test_post_without_csrf_token_is_refused(grc_lead, control):
    client = Client(enforce_csrf_checks=True)
    client.force_login(grc_lead)
    response = client.post(reverse("controls:edit", args=[control.pk]), _form(control, title="no csrf"))
    assert response.status_code == 403
    control.refresh_from_db()
    assert control.title == "Scheduled rotation"


def test_upload_and_download_through_the_views(client, grc_lead, control):
    client.force_login(grc_lead)
    response = client.post(
        reverse("controls:evidence_upload", args=[control.pk]),
        {
            "file": SimpleUploadedFile("training.csv", b"name,date\n=cmd|' /C calc'!A0,2026-01-01\n", content_type="text/csv"),
            "effective_date": "2026-02-01",
            "description": "<b>export</b>",
        },
    )
    assert response.status_code == 302
    ev = ControlEvidence.objects.get()
    page = client.get(reverse("controls:detail", args=[control.pk])).content.decode()
    assert ev.sha256 in page and "&lt;b&gt;export&lt;/b&gt;" in page
    download = client.get(reverse("controls:evidence_download", args=[control.pk, ev.pk]))
    assert download.status_code == 200 and download.content.startswith(b"name,date")
    assert download["Content-Disposition"].startswith("attachment;")
    assert AuditEvent.objects.filter(event_type="control.evidence_downloaded").count() == 1


@override_settings(KEYTRAIL_EVIDENCE_MAX_BYTES=100)
def test_oversized_upload_through_the_view(client, grc_lead, control):
    client.force_login(grc_lead)
    response = client.post(
        reverse("controls:evidence_upload", args=[control.pk]),
        {
            "file": SimpleUploadedFile("big.txt", b"a" * 101),
            "effective_date": "2026-02-01",
        },
    )
    assert response.status_code == 200 and "limit is 100 bytes" in response.content.decode()
    assert ControlEvidence.objects.count() == 0


def test_malformed_upload_through_the_view(client, grc_lead, control):
    client.force_login(grc_lead)
    response = client.post(
        reverse("controls:evidence_upload", args=[control.pk]),
        {
            "file": SimpleUploadedFile("policy.pdf", b"<html>not a pdf</html>"),
            "effective_date": "not-a-date",
        },
    )
    body = response.content.decode()
    assert response.status_code == 200 and "Enter a valid date" in body
    assert ControlEvidence.objects.count() == 0


def test_list_filters_and_makes_a_fixed_number_of_queries(client, grc_lead, catalog, django_assert_max_num_queries):
    from apps.controls.services import control_create

    for i in range(30):
        control_create(
            actor=grc_lead,
            title=f"Control {i}",
            owner=grc_lead,
            narrative="n",
            requirements=list(catalog[:3]),
            implementation_status="implemented" if i % 2 else "planned",
        )
    client.force_login(grc_lead)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("controls:list"), {"status": "implemented"})
    assert response.status_code == 200
    assert response.context["page"].paginator.count == 15


def test_hostile_text_is_escaped(client, grc_lead, catalog):
    from apps.controls.services import control_create

    control = control_create(
        actor=grc_lead, title="<img src=x onerror=alert(1)>", owner=grc_lead, narrative="<script>x</script>", requirements=[catalog[0]]
    )
    client.force_login(grc_lead)
    for url in [reverse("controls:list"), reverse("controls:detail", args=[control.pk]), reverse("home")]:
        body = client.get(url).content.decode()
        assert "<img src=x" not in body and "<script>x</script>" not in body
