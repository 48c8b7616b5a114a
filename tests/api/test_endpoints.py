"""What the endpoints do: writes go through the services (audited, separation of duties
kept), reads are narrowed and filtered like the UI's, lists are paginated in a fixed number
of queries."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.exceptions_register.models import ExceptionRequest
from apps.inventory.models import Source
from tests.factories import CollectionRunFactory, CredentialFactory
from tests.support.permission_matrix import matrix_world, world  # noqa: F401 - the seeded world

pytestmark = pytest.mark.django_db


def test_register_a_source_and_collect_it(api_as, grc_lead):
    client = api_as(grc_lead)
    bad = client.post(reverse("api:source-list"), {"name": "prod", "kind": "aws_account", "role_arn": "arn:nope"}, format="json")
    assert bad.status_code == 400 and bad.json()["detail"].startswith("Nothing was changed: Role ARN")
    assert not Source.objects.exists()
    created = client.post(
        reverse("api:source-list"),
        {
            "name": "prod",
            "kind": "aws_account",
            "role_arn": "arn:aws:iam::123456789012:role/audit",
            "regions": ["eu-west-1"],
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    source_id = created.json()["id"]
    assert AuditEvent.objects.get(event_type="source.created", target_id=str(source_id)).origin == "api"
    changed = client.patch(reverse("api:source-detail", args=[source_id]), {"schedule_minutes": 60}, format="json")
    assert changed.json()["schedule_minutes"] == 60
    assert AuditEvent.objects.filter(event_type="source.updated").exists()
    run = client.post(reverse("api:source-collect", args=[source_id]), format="json")
    assert run.status_code == 202
    body = run.json()
    assert body["status"] == "pending" and body["progress"] == {"total": 3, "done": 0, "failed": 0, "percent": 0}
    assert run["Location"] == body["progress_url"] == reverse("api:run-detail", args=[body["id"]])
    assert [u["scope"] for u in body["units"]] == ["aws_iam", "aws_secrets_manager:eu-west-1", "aws_ssm:eu-west-1"]
    assert AuditEvent.objects.filter(event_type="collection.started", target_id=str(body["id"])).exists()


def test_run_detail_shows_only_the_units_one_may_see(api_as, world):  # noqa: F811
    people, kwargs = world
    run_id = kwargs["inventory:run_detail"]["pk"]
    body = api_as(people["auditor_shared"]).get(reverse("api:run-detail", args=[run_id])).json()
    assert body["progress"] == {"total": 2, "done": 2, "failed": 1, "percent": 100}
    assert {u["status"] for u in body["units"]} == {"succeeded", "failed"}
    assert body["units"][1]["errors"][0]["code"] == "throttled"


def test_inventory_is_narrowed_and_filterable(api_as, world):  # noqa: F811
    people, kwargs = world
    credential_id = kwargs["inventory:credential_detail"]["pk"]
    assert api_as(people["reviewer"]).get(reverse("api:credential-list")).json()["count"] == 0
    grc = api_as(people["grc_lead"])
    listed = grc.get(reverse("api:credential-list"), {"credential_type": "access_key", "q": "AKIA"}).json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == credential_id
    assert grc.get(reverse("api:credential-list"), {"credential_type": "kv_secret"}).json()["count"] == 0
    detail = grc.get(reverse("api:credential-detail", args=[credential_id])).json()
    assert detail["name"] == "AKIAEXAMPLE" and "attributes" in detail
    assert grc.get(reverse("api:credential-versions", args=[credential_id])).json() == []
    identities = grc.get(reverse("api:identity-list"), {"kind": "human"}).json()
    assert identities["results"][0]["credential_count"] == 1


def test_findings_filter_by_rule_requirement_status_source_and_credential(api_as, world, catalog):  # noqa: F811
    people, kwargs = world
    client = api_as(people["approver"])
    credential_id = kwargs["inventory:credential_detail"]["pk"]
    source_id = kwargs["inventory:source_detail"]["pk"]
    requirement = next(r for r in catalog if "iam-key-rotation-age" in r.rule_ids)
    url = reverse("api:finding-list")
    for params, count in [
        ({}, 1),
        ({"rule": "iam-key-rotation-age"}, 1),
        ({"rule": "other"}, 0),
        ({"status": "fail"}, 1),
        ({"status": "excepted"}, 0),
        ({"source": source_id}, 1),
        ({"credential": credential_id}, 1),
        ({"credential": credential_id + 1000}, 0),
        ({"requirement": requirement.ref}, 1),
    ]:
        assert client.get(url, params).json()["count"] == count, params
    assert client.get(url, {"credential": "x"}).status_code == 400
    posture = client.get(reverse("api:requirement-status-list")).json()
    row = next(r for r in posture["requirements"] if r["ref"] == requirement.ref)
    assert row["status"] == "fail" and posture["evaluation"]["policy_version"] >= 1


def test_controls_are_created_and_changed_through_the_service(api_as, grc_lead, approver, catalog):
    client = api_as(grc_lead)
    created = client.post(
        reverse("api:control-list"),
        {
            "title": '=HYPERLINK("x")',
            "owner": approver.username,
            "narrative": "<b>rotate</b>",
            "requirements": [catalog[0].ref],
            "rule_ids": ["iam-key-rotation-age"],
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["title"] == '=HYPERLINK("x")' and body["narrative"] == "<b>rotate</b>"  # stored faithfully
    assert AuditEvent.objects.filter(event_type="control.created", target_id=str(body["id"])).exists()
    # The owner holds change_control on their control, through the API as in the UI.
    patched = api_as(approver).patch(
        reverse("api:control-detail", args=[body["id"]]), {"implementation_status": "implemented"}, format="json"
    )
    assert patched.status_code == 200 and patched.json()["implementation_status"] == "implemented"


def test_exception_request_and_approval_keep_separation_of_duties(api_as, world):  # noqa: F811
    people, kwargs = world
    credential_id = kwargs["inventory:credential_detail"]["pk"]
    requested = api_as(people["reviewer"]).post(
        reverse("api:exception-list"),
        {
            "title": "Vendor key",
            "rule_ids": ["iam-key-rotation-age"],
            "scope": {"credential_ids": [credential_id]},
            "justification": "vendor",
            "compensating_controls": "IP allow-list",
            "risk": "medium",
            "owner": people["reviewer"].username,
            "expires_on": (timezone.now().date() + dt.timedelta(days=30)).isoformat(),
        },
        format="json",
    )
    assert requested.status_code == 201, requested.json()
    exception_id = requested.json()["id"]
    assert requested.json()["state"] == "pending"
    # The requester holds no decide permission; the owner-approver of another exception is refused by the service.
    own = api_as(people["reviewer"]).post(reverse("api:exception-approve", args=[exception_id]), {"comment": "ok"}, format="json")
    assert own.status_code == 403
    too_long = api_as(people["approver"]).post(reverse("api:exception-approve", args=[exception_id]), {}, format="json")
    assert too_long.status_code == 400 and "Comment" in too_long.json()["detail"]
    approved = api_as(people["approver"]).post(
        reverse("api:exception-approve", args=[exception_id]), {"comment": "fine until Q3"}, format="json"
    )
    assert approved.status_code == 200 and approved.json()["state"] == "approved"
    assert approved.json()["decisions"][0]["approver"] == people["approver"].username
    again = api_as(people["approver"]).post(reverse("api:exception-approve", args=[exception_id]), {"comment": "again"}, format="json")
    assert again.status_code == 409
    revoked = api_as(people["grc_lead"]).post(reverse("api:exception-revoke", args=[exception_id]), {"comment": "fixed"}, format="json")
    assert revoked.json()["state"] == "revoked"
    trail = list(
        AuditEvent.objects.filter(target_id=str(exception_id), target_type="exceptions_register.exceptionrequest")
        .order_by("seq")
        .values_list("event_type", flat=True)
    )
    assert trail == ["exception.requested", "access.denied", "exception.approval_given", "exception.approved", "exception.revoked"]
    # The owner of the world's exception may not decide it, even holding decide_exception.
    pending = ExceptionRequest.objects.get(pk=kwargs["exceptions:detail"]["pk"])
    refused = api_as(people["owner"]).post(reverse("api:exception-approve", args=[pending.pk]), {"comment": "mine"}, format="json")
    assert refused.status_code == 403 and "owns" in refused.json()["detail"]


def test_unknown_api_paths_answer_json_404(api_as, grc_lead):
    response = api_as(grc_lead).post("/api/v1/nothing/here/", {}, format="json")
    assert response.status_code == 404 and response.json() == {"detail": "Not found."}


def test_schema_and_docs_are_served_without_a_cdn(client, grc_lead):
    client.force_login(grc_lead)
    schema = client.get(reverse("api:schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    docs = client.get(reverse("api:docs")).content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in docs
    assert "cdn" not in docs.lower() and "https://" not in docs


@pytest.mark.parametrize(
    "name",
    [
        "api:credential-list",
        "api:identity-list",
        "api:source-list",
        "api:run-list",
        "api:finding-list",
        "api:control-list",
        "api:exception-list",
    ],
)
def test_lists_take_a_fixed_number_of_queries(api_as, world, name, django_assert_max_num_queries):  # noqa: F811
    people, kwargs = world
    source = Source.objects.get()
    identity = source.identities.get()
    for n in range(30):
        CredentialFactory(
            source=source,
            scope="aws_iam",
            external_id=f"AKIA{n:04d}",
            credential_type="access_key",
            name=f"AKIA{n:04d}",
            identity=identity,
            enabled=True,
            fingerprint="f",
            first_seen_at=timezone.now(),
        )
        CollectionRunFactory(status="succeeded", requested_by=people["grc_lead"], started_at=None, finished_at=None).units.create(
            source=source, connector="aws_iam", scope="aws_iam", status="succeeded"
        )
    client = api_as(people["grc_lead"])
    with django_assert_max_num_queries(14):
        response = client.get(reverse(name))
    assert response.status_code == 200
